import type { Context } from "hono";
import { Hono } from "hono";
import { findArchivedEvent } from "../../archive/lookup";
import { eventActions } from "../../db/audit";
import { getEntity } from "../../db/entities";
import { FORCE_REPLAYABLE, REPLAYABLE } from "../../db/event-requeue";
import { getEventRow } from "../../db/events";
import { notificationsForEvent } from "../../db/notification-views";
import { audited, setAuditClinic } from "../../http/audit";
import { refusalText, replayEvent } from "../../replay/replay";
import { clinicTimeZone } from "../clinic-time-zone";
import { CsrfField, Notice, renderPage, StatusBadge, Time } from "../layout";
import { recordPayloadReveal } from "../reveal";
import { mayOperate, scopeOf } from "../scope";
import type { ConsoleApp } from "../types";
import { describeEntityEffect } from "./event-effect";
import { EventHistory, PayloadSection } from "./event-payload";
import { reasonValuesOf } from "./reason-values";
import { ENTITY_PAGES, entityOfEvent, NotificationTable, referencesOf } from "./shared";

interface PageNotice {
  kind: "info" | "error";
  text: string;
}

/** The event's stored issues or warnings (`[{path, message}]`), tolerating anything else as absent. */
export function parseIssues(issues: string | null): { path: string; message: string }[] {
  if (!issues) return [];
  try {
    const parsed = JSON.parse(issues) as unknown;
    return Array.isArray(parsed) ? (parsed as { path: string; message: string }[]) : [];
  } catch {
    return [];
  }
}

/** The event page: timeline, effect on its entity, notifications, replay. Three round trips. */
async function renderEventPage(
  c: Context<ConsoleApp>,
  eventId: string,
  notice?: PageNotice,
  status: 200 | 400 | 409 | 503 = 200,
  options: { revealPayload?: boolean } = {},
) {
  const timeZone = clinicTimeZone(c.env);
  const live = await getEventRow(c.env.DB, scopeOf(c), eventId);
  // Finished history older than ARCHIVE_AFTER_DAYS is read back from the R2 archive (read-only);
  // another clinic's archived event is unknown here, as its live one is.
  const archived = live ? null : await findArchivedEvent(c.env, scopeOf(c), eventId);
  const row = live ?? archived?.event;
  if (!row) {
    return renderPage(c, "Event not found", <Notice kind="error">No event has this id.</Notice>, 404);
  }
  setAuditClinic(c, row.clinic_id);
  const entity = archived ? null : entityOfEvent(row);
  const [notifications, entityRow, reasonValues, actions] = archived
    ? [archived.notifications, null, undefined, []]
    : await Promise.all([
        notificationsForEvent(c.env.DB, row.event_id),
        entity ? getEntity(c.env.DB, scopeOf(c), entity.kind, entity.id) : Promise.resolve(null),
        reasonValuesOf(c.env, row.clinic_id),
        eventActions(c.env.DB, row.event_id, 50),
      ]);
  const issues = parseIssues(row.issues);
  const warnings = parseIssues(row.warnings);
  const effect = entity ? describeEntityEffect(row, entity.kind, ENTITY_PAGES[entity.kind].noun, entityRow) : null;
  const replayable = !archived && row.payload !== null && REPLAYABLE.includes(row.status);
  const forceOnly = !archived && row.payload !== null && !replayable && FORCE_REPLAYABLE.includes(row.status);
  const csrfToken = c.get("csrfToken");

  return renderPage(
    c,
    `Event ${row.event_id}`,
    <>
      {notice && <Notice kind={notice.kind}>{notice.text}</Notice>}
      {archived && (
        <Notice kind="info">
          Archived: this finished event was moved out of the database and is read from the archive (object{" "}
          <code>{archived.objectKey}</code>).
        </Notice>
      )}
      <dl class="facts">
        <dt>Type</dt>
        <dd class="mono">{row.event_type}</dd>
        <dt>Status</dt>
        <dd>
          <StatusBadge status={row.status} />
        </dd>
        <dt>Clinic</dt>
        <dd class="mono">{row.clinic_id}</dd>
        {referencesOf(row).map((reference) => (
          <>
            <dt>{reference.label}</dt>
            <dd>
              <a class="mono" href={reference.href}>
                {reference.id}
              </a>
            </dd>
          </>
        ))}
      </dl>

      <h2>Timeline</h2>
      <ol class="timeline">
        <li>
          <Time iso={row.occurred_at} timeZone={timeZone} /> — happened at NovaMed
        </li>
        <li>
          <Time iso={row.received_at} timeZone={timeZone} /> — received and queued by the receiver
        </li>
        <li>
          {row.attempts} processing attempt{row.attempts === 1 ? "" : "s"}
          {row.conflicts > 0 && `; ${row.conflicts} delivery(ies) with this id but different content were kept out`}
        </li>
        <li>
          {row.processed_at ? <Time iso={row.processed_at} timeZone={timeZone} /> : "Not finished"} — outcome{" "}
          <StatusBadge status={row.status} />
          {row.applications > 1 && ` (applied ${row.applications} times: forced replays)`}
        </li>
        {issues.length > 0 && (
          <li>
            Issues found in its data:
            <ul id="issues">
              {issues.map((issue) => (
                <li>
                  <code>{issue.path || "(data)"}</code> {issue.message}
                </li>
              ))}
            </ul>
          </li>
        )}
        {warnings.length > 0 && (
          <li>
            Applied with {warnings.length} warning{warnings.length === 1 ? "" : "s"} (optional fields dropped or
            coerced):
            <ul id="warnings" class="warnings">
              {warnings.map((warning) => (
                <li>
                  <code>{warning.path || "(data)"}</code> {warning.message}
                </li>
              ))}
            </ul>
          </li>
        )}
        {row.last_error && (
          <li>
            Last error: <code>{row.last_error}</code>
          </li>
        )}
        {effect && (
          <li id="entity-effect">
            {effect.status}
            {effect.currentFacts &&
              (effect.currentFacts.length > 0
                ? ` Current facts it supplied: ${effect.currentFacts.map((fact) => fact.replaceAll("_", " ")).join(", ")}.`
                : " None of the current facts came from it.")}
          </li>
        )}
        {row.payload_purged_at && (
          <li>
            <Time iso={row.payload_purged_at} timeZone={timeZone} /> — payload removed by the retention policy
          </li>
        )}
      </ol>

      <h2>Payload</h2>
      <PayloadSection
        eventId={row.event_id}
        payload={row.payload}
        revealed={options.revealPayload === true}
        revealToken={mayOperate(c) ? csrfToken : undefined}
      />

      <h2>Attempts and replays</h2>
      <EventHistory attempts={row.attempts} actions={actions} timeZone={timeZone} />

      <h2>Notifications</h2>
      <NotificationTable
        notifications={notifications}
        timeZone={timeZone}
        values={reasonValues}
        sendToken={!archived && mayOperate(c) ? csrfToken : undefined}
      />

      <h2>Replay</h2>
      {replayable && (
        <form method="post" action={`/console/events/${encodeURIComponent(row.event_id)}/replay`}>
          <CsrfField token={csrfToken} />
          <button type="submit">Replay this event</button>
        </form>
      )}
      {forceOnly && (
        <form method="post" action={`/console/events/${encodeURIComponent(row.event_id)}/replay`} class="stacked">
          <CsrfField token={csrfToken} />
          <input type="hidden" name="force" value="true" />
          <p>
            This event is <StatusBadge status={row.status} />: replaying it applies it again (notifications are never
            sent twice).
          </p>
          <p>
            <input type="checkbox" id="confirm-force" name="confirm" value="yes" required />{" "}
            <label for="confirm-force">I understand; re-apply this event</label>
          </p>
          <button type="submit" class="danger">
            Force replay
          </button>
        </form>
      )}
      {!replayable && !forceOnly && (
        <p class="muted">
          {archived
            ? "Archived events cannot be replayed."
            : row.payload === null
              ? "The payload was removed by the retention policy, so this event cannot be replayed."
              : "This event is being processed; it can be replayed once it has finished."}
        </p>
      )}
    </>,
    status,
  );
}

/** `/console/events/:event_id` and its replay action. */
export const eventPage = new Hono<ConsoleApp>();

eventPage.get("/:event_id", audited("event.read", "event", "event_id"), async (c) => {
  const replayed = c.req.query("replayed") === "1";
  const sent = c.req.query("sent");
  return renderEventPage(
    c,
    c.req.param("event_id"),
    replayed
      ? { kind: "info", text: "Replay queued: the event will be processed again shortly." }
      : sent === "sms" || sent === "email"
        ? {
            kind: "info",
            text: `The ${sent === "sms" ? "SMS" : "email"} is queued to send: consent, caps, quiet hours and the provider are checked again, so it may be held or suppressed again if the cause remains.`,
          }
        : undefined,
  );
});

eventPage.post("/:event_id/replay", audited("event.replay", "event", "event_id"), async (c) => {
  const eventId = c.req.param("event_id");
  const form = await c.req.parseBody();
  const force = form.force === "true";
  if (force && form.confirm !== "yes") {
    return renderEventPage(
      c,
      eventId,
      { kind: "error", text: "Tick the confirmation to force a replay of a finished event." },
      400,
    );
  }
  // Another clinic's event is unknown here (`not_found`): the page answers 404 without replaying anything.
  const result = await replayEvent(c.env, eventId, { force, requestId: c.get("requestId"), scope: scopeOf(c) });
  if (result.clinicId !== undefined) setAuditClinic(c, result.clinicId);
  if (!("replayed" in result)) {
    if (result.refused === "not_found") return renderEventPage(c, eventId);
    // Try again later (503), or a refusal about this event's state (409).
    const status = result.refused === "enqueue_failed" ? 503 : 409;
    return renderEventPage(c, eventId, { kind: "error", text: refusalText(result) }, status);
  }
  return c.redirect(`/console/events/${encodeURIComponent(eventId)}?replayed=1`, 303);
});

/**
 * `POST /console/events/:event_id/reveal`: an operator sees the payload unmasked once, after its
 * audit row (`event.reveal_payload`) is written; viewers get 403 from the role check, and another
 * clinic's event answers 404 without a row.
 */
eventPage.post("/:event_id/reveal", async (c) => {
  const eventId = c.req.param("event_id");
  const live = await getEventRow(c.env.DB, scopeOf(c), eventId);
  if (!live) return renderEventPage(c, eventId);
  await recordPayloadReveal(c, eventId);
  return renderEventPage(c, eventId, undefined, 200, { revealPayload: true });
});
