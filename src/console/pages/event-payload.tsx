import type { EventAction } from "../../db/audit";
import { CsrfField, StatusBadge, Time } from "../layout";

/** What a masked value shows instead of itself. */
export const MASK = "•••";

/**
 * Payload fields shown as sent: ids, the envelope, dates and the shipment's carrier and tracking
 * number. Everything else (contact details, the address, the medication, quantities, free-text
 * reasons, and any field NovaMed adds later) is masked until an operator reveals it.
 */
const SHOWN_FIELDS = new Set([
  "event_id",
  "event_type",
  "timestamp",
  "clinic_id",
  "carrier",
  "tracking_number",
  "estimated_delivery",
  "approved_at",
  "filled_at",
  "status",
]);

function shownAsSent(key: string): boolean {
  return SHOWN_FIELDS.has(key) || key.endsWith("_id");
}

/** The payload with every value outside {@link SHOWN_FIELDS} replaced by {@link MASK}; keys stay as sent. */
export function maskPayload(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) return value.map((item) => maskPayload(item, key));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, maskPayload(inner, name)]));
  }
  if (value === null || (key !== undefined && shownAsSent(key))) return value;
  return MASK;
}

/** The stored payload, parsed; null when it was removed or cannot be read. */
function parsedPayload(payload: string | null): unknown {
  if (payload === null) return null;
  try {
    return JSON.parse(payload) as unknown;
  } catch {
    return null;
  }
}

/**
 * The event's payload as JSON with field names as NovaMed sent them, masked unless `revealed`; an
 * operator's "Reveal payload" is a POST that writes an audit row first (src/console/reveal.ts).
 */
export function PayloadSection({
  eventId,
  payload,
  revealed,
  revealToken,
}: {
  eventId: string;
  payload: string | null;
  revealed: boolean;
  /** The CSRF token when the identity may reveal (operators and admins). */
  revealToken?: string;
}) {
  const parsed = parsedPayload(payload);
  if (parsed === null) return <p class="muted">The payload is no longer stored.</p>;
  return (
    <>
      <p class="muted">
        {revealed
          ? "Shown in full; this reveal was recorded in the audit trail."
          : "Ids, dates, carrier and tracking number as sent; contact details, address, medication and other values masked."}
      </p>
      {/* A region of its own that scrolls sideways on a phone, reachable by keyboard. */}
      <section class="payload" aria-label="Payload as JSON" tabindex={0}>
        <pre id="payload">{JSON.stringify(revealed ? parsed : maskPayload(parsed), null, 2)}</pre>
      </section>
      {!revealed && revealToken && (
        <form method="post" action={`/console/events/${encodeURIComponent(eventId)}/reveal`}>
          <CsrfField token={revealToken} />
          <button type="submit" class="secondary">
            Reveal payload
          </button>
        </form>
      )}
    </>
  );
}

const ACTION_NAMES: Record<string, string> = {
  "event.replay": "replay",
  "event.reveal_payload": "payload revealed",
};

/** What one event's row of a bulk replay means, by its outcome (the row's status says the same as a code). */
const BULK_OUTCOMES: Record<string, string> = {
  success: "queued to run again",
  rejected: "skipped: it was no longer dead, failed or invalid (or its payload was removed)",
  error: "could not be queued; its status was put back",
};

/** The history's name for a row: a bulk replay's row for this event is named apart from a single replay. */
function actionName(action: EventAction): string {
  if (action.bulk) return "bulk replay";
  return ACTION_NAMES[action.action] ?? action.action;
}

/**
 * Processing attempts and what staff did to the event: replays (single, or this event's row of a bulk
 * replay, with what the bulk replay did to it) and reveals; who, when, outcome.
 */
export function EventHistory({
  attempts,
  actions,
  timeZone,
}: {
  attempts: number;
  actions: EventAction[];
  timeZone: string;
}) {
  return (
    <>
      <p>
        The receiver has run it {attempts} time{attempts === 1 ? "" : "s"} (each replay adds a run).
      </p>
      {actions.length === 0 ? (
        <p class="muted">No replays or reveals by staff.</p>
      ) : (
        <ol id="event-history" class="timeline" aria-label="Replays and reveals by staff, newest first">
          {actions.map((action) => (
            <li>
              <Time iso={action.at} timeZone={timeZone} /> — {actionName(action)} by{" "}
              <span class="actor-name">{action.actor}</span>: <StatusBadge status={action.outcome} /> ({action.status})
              {action.bulk && BULK_OUTCOMES[action.outcome] && ` — ${BULK_OUTCOMES[action.outcome]}`}
            </li>
          ))}
        </ol>
      )}
    </>
  );
}
