import type { EventRow } from "../../db/events";
import type { NotificationRow } from "../../db/notification-outbox";
import { type EntityKind, eventTypeParts } from "../../event-types";
import { explainNotification, type ReasonValues } from "../../notify/explanations";
import { CsrfField, StatusBadge, Time } from "../layout";

/** Each entity kind's console path, payload field and name in prose. */
export const ENTITY_PAGES: Record<EntityKind, { path: string; field: string; noun: string; title: string }> = {
  order: { path: "/console/orders", field: "order_id", noun: "order", title: "Order" },
  medication_request: {
    path: "/console/medication-requests",
    field: "medication_request_id",
    noun: "medication request",
    title: "Medication request",
  },
  refill: { path: "/console/refills", field: "refill_id", noun: "refill", title: "Refill" },
};

function payloadData(row: EventRow): Record<string, unknown> {
  if (!row.payload) return {};
  try {
    const data = (JSON.parse(row.payload) as { data?: unknown }).data;
    return data && typeof data === "object" ? (data as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The entity an event of this type applies to (its type's prefix), when its payload names one. */
export function entityOfEvent(row: EventRow): { kind: EntityKind; id: string } | null {
  const kind = eventTypeParts(row.event_type)?.entity;
  if (!kind) return null;
  const id = payloadData(row)[ENTITY_PAGES[kind].field];
  return typeof id === "string" && id ? { kind, id } : null;
}

/** Links to every entity and the patient the event's payload names (ids only; no other payload value). */
export function referencesOf(row: EventRow): { label: string; id: string; href: string }[] {
  const data = payloadData(row);
  const references: { label: string; id: string; href: string }[] = [];
  for (const page of Object.values(ENTITY_PAGES)) {
    const id = data[page.field];
    if (typeof id === "string" && id) {
      references.push({ label: page.title, id, href: `${page.path}/${encodeURIComponent(id)}` });
    }
  }
  const patientId = data.patient_id;
  if (typeof patientId === "string" && patientId) {
    references.push({ label: "Patient", id: patientId, href: `/console/patients/${encodeURIComponent(patientId)}` });
  }
  return references;
}

/**
 * A notification's reason in words (src/notify/explanations.ts): what happened, the setting behind
 * it, what to do, and for an operator a "Send now" form when it is held or over a cap.
 */
export function ReasonCell({
  notification,
  values,
  sendToken,
}: {
  notification: NotificationRow;
  values?: ReasonValues;
  /** The CSRF token when the identity may send (operators and admins). */
  sendToken?: string;
}) {
  const explained = explainNotification(notification, values);
  if (!explained) return <>{notification.error ?? ""}</>;
  return (
    <div class="reason">
      {notification.error && <code>{notification.error}</code>}
      <p>
        {explained.sentence[0]?.toUpperCase()}
        {explained.sentence.slice(1)}
        {explained.setting && (
          <>
            {" "}
            (<code>{explained.setting}</code>)
          </>
        )}
        .
      </p>
      <p class="muted">What to do: {explained.action}.</p>
      {explained.sendable && sendToken && (
        <form method="post" action={`/console/notifications/${encodeURIComponent(notification.notification_id)}/send`}>
          <CsrfField token={sendToken} />
          <button type="submit" aria-label={`Send the ${notification.channel} message now`}>
            Send now
          </button>
        </form>
      )}
    </div>
  );
}

/** Notifications with their delivery status; message bodies are not shown (they may hold PHI). */
export function NotificationTable({
  notifications,
  timeZone,
  showEvent = false,
  values,
  sendToken,
}: {
  notifications: NotificationRow[];
  timeZone: string;
  showEvent?: boolean;
  /** The clinic's settings the reasons name (the daily caps). */
  values?: ReasonValues;
  /** The CSRF token when the identity may send held or cap-suppressed messages. */
  sendToken?: string;
}) {
  if (notifications.length === 0) return <p class="muted">No notifications.</p>;
  return (
    // Focusable, so a keyboard can scroll it when it is wider than a phone (it may hold no control).
    <table class="notifications" tabindex={0} aria-label="Notifications">
      <thead>
        <tr>
          {showEvent && <th scope="col">Event</th>}
          <th scope="col">Channel</th>
          <th scope="col">Message</th>
          <th scope="col">Status</th>
          <th scope="col">Provider</th>
          <th scope="col" class="number">
            Attempts
          </th>
          <th scope="col">Sent</th>
          <th scope="col">Error or reason</th>
        </tr>
      </thead>
      <tbody>
        {notifications.map((notification) => (
          <tr data-notification-id={notification.notification_id}>
            {showEvent && (
              <td>
                <a class="mono" href={`/console/events/${encodeURIComponent(notification.event_id)}`}>
                  {notification.event_id}
                </a>
              </td>
            )}
            <td>{notification.channel}</td>
            <td class="mono">{notification.kind}</td>
            <td>
              <StatusBadge status={notification.status} />
              {notification.scheduled_for && (
                <>
                  {" "}
                  until <Time iso={notification.scheduled_for} timeZone={timeZone} />
                </>
              )}
            </td>
            <td>{notification.provider ?? ""}</td>
            <td class="number">{notification.attempts}</td>
            <td>
              <Time iso={notification.sent_at} timeZone={timeZone} />
            </td>
            <td>
              <ReasonCell notification={notification} values={values} sendToken={sendToken} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A table of events (newest first), linked to their pages. */
export function EventTable({
  events,
  timeZone,
  currentEventId,
}: {
  events: EventRow[];
  timeZone: string;
  /** The event that set the entity's current status, marked in the table. */
  currentEventId?: string;
}) {
  if (events.length === 0) return <p class="muted">No stored event names it (payloads past retention drop out).</p>;
  return (
    <table class="events">
      <thead>
        <tr>
          <th scope="col">Received</th>
          <th scope="col">Event</th>
          <th scope="col">Type</th>
          <th scope="col">Happened</th>
          <th scope="col">Status</th>
          {currentEventId !== undefined && <th scope="col">Effect</th>}
        </tr>
      </thead>
      <tbody>
        {events.map((row) => (
          <tr data-event-id={row.event_id}>
            <EventCells row={row} timeZone={timeZone} />
            <td>
              <Time iso={row.occurred_at} timeZone={timeZone} />
            </td>
            <td>
              <StatusBadge status={row.status} />
            </td>
            {currentEventId !== undefined && (
              <td>
                {row.event_id === currentEventId
                  ? "set the current status"
                  : row.status === "processed"
                    ? "applied; status since moved on, or stale"
                    : "not applied"}
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** An event's first cells in a list: when it was received, its id (linked to its page) and its type. */
export function EventCells({
  row,
  timeZone,
}: {
  row: { received_at: string; event_id: string; event_type: string };
  timeZone: string;
}) {
  return (
    <>
      <td>
        <Time iso={row.received_at} timeZone={timeZone} />
      </td>
      <td>
        <a class="mono" href={`/console/events/${encodeURIComponent(row.event_id)}`}>
          {row.event_id}
        </a>
      </td>
      <td class="mono">{row.event_type}</td>
    </>
  );
}
