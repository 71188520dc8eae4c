import { Hono } from "hono";
import { z } from "zod";
import { REPLAYABLE } from "../../db/event-requeue";
import { type EventRow, eventIdsInScope } from "../../db/events";
import { narrowedTo } from "../../db/scope";
import { auditActorOf, audited, setAuditDetail } from "../../http/audit";
import { type BulkReplayResult, replayEvents, replaySelectedEvents } from "../../replay/replay";
import { clinicTimeZone } from "../clinic-time-zone";
import { CsrfField } from "../layout";
import { scopeOf } from "../scope";
import type { ConsoleApp } from "../types";
import { FILTER_FIELDS, type Filters, filtersSchema, listUrl, resolveFilters } from "./event-filters";

/** The most "Replay all matching" takes in one run: the same cap as `POST /admin/events/replay`. */
export const BULK_REPLAY_LIMIT = 1000;
/** The most events one "Replay selected" takes; a list page shows 50. */
const MAX_SELECTION = 100;

type BulkStatus = "dead" | "failed" | "invalid";

function isBulkStatus(status: string | undefined): status is BulkStatus {
  return status === "dead" || status === "failed" || status === "invalid";
}

/** A row can be selected when a plain replay would take it: replayable status, payload still kept. */
export function isSelectable(row: EventRow): boolean {
  return row.payload !== null && REPLAYABLE.includes(row.status);
}

/** The checkbox of one replayable row, labelled with the event's id for screen readers. */
export function SelectCheckbox({ eventId }: { eventId: string }) {
  return (
    <label class="select">
      <input type="checkbox" name="event_id" value={eventId} />
      <span class="visually-hidden">Select {eventId}</span>
    </label>
  );
}

/**
 * The bulk-replay form's controls: the CSRF token, the list's filters as hidden fields (so the POST
 * replays what the page shows and redirects back to it), "Replay selected" and "Replay all matching".
 */
export function BulkReplayActions({
  filters,
  csrfToken,
  anySelectable,
}: {
  filters: Filters;
  csrfToken: string;
  anySelectable: boolean;
}) {
  const canReplayMatching = isBulkStatus(filters.status) && !filters.q;
  return (
    <div class="bulk-actions">
      <CsrfField token={csrfToken} />
      {[...FILTER_FIELDS, "cursor" as const].map(
        (field) => filters[field] && <input type="hidden" name={field} value={filters[field]} />,
      )}
      {anySelectable && (
        <button type="submit" name="scope" value="selected">
          Replay selected
        </button>
      )}
      {canReplayMatching ? (
        <button type="submit" name="scope" value="matching" class="secondary">
          Replay all matching (up to {BULK_REPLAY_LIMIT})
        </button>
      ) : (
        <p class="muted">
          To replay everything that matches, filter by status dead, failed or invalid (without a search).
        </p>
      )}
    </div>
  );
}

const REFUSALS = {
  none_selected: "Nothing was replayed: select at least one dead, failed or invalid event first.",
  too_many: `Nothing was replayed: select at most ${MAX_SELECTION} events at a time.`,
  no_status: "Nothing was replayed: “Replay all matching” needs the status filter set to dead, failed or invalid.",
  search: "Nothing was replayed: “Replay all matching” does not take a search; clear it or select events instead.",
  invalid_filters: "Nothing was replayed: these filters are not valid; check the status, dates and search text.",
  enqueue_failed: "Nothing was replayed: the events could not be queued; retry in a minute.",
} as const;

type Refusal = keyof typeof REFUSALS;

const countParameter = z.coerce.number().int().min(0).max(1_000_000);

/** The notice the list shows after a bulk replay redirected back to it, from the redirect's parameters. */
export function bulkReplayNotice(query: Record<string, string>): { kind: "info" | "error"; text: string } | null {
  const refused = query.refused;
  if (refused && Object.hasOwn(REFUSALS, refused)) return { kind: "error", text: REFUSALS[refused as Refusal] };
  const replayed = countParameter.safeParse(query.replayed);
  if (query.replayed === undefined || !replayed.success) return null;
  const count = replayed.data;
  let text = `${count} event${count === 1 ? "" : "s"} queued for replay.`;
  const selected = countParameter.safeParse(query.selected);
  if (query.selected !== undefined && selected.success && selected.data > count) {
    const left = selected.data - count;
    text += ` ${left} of the ${selected.data} selected ${left === 1 ? "was" : "were"} no longer dead, failed or invalid.`;
  }
  if (query.scope === "matching" && count === BULK_REPLAY_LIMIT) {
    text += ` At most ${BULK_REPLAY_LIMIT} are replayed at a time; replay again for the rest.`;
  }
  return { kind: "info", text };
}

const selectionSchema = z.array(z.string().trim().min(1).max(200));

/**
 * `POST /console/events/replay`: "Replay selected" (the ticked rows) or "Replay all matching" (the
 * list's status, type and received range, like `POST /admin/events/replay`), through the admin API's
 * replay functions. Always answers with a 303 back to the list carrying a notice, so a refusal is a
 * message on the page rather than an error page. Each POST writes one `event.bulk_replay` audit row
 * with the count replayed (0 for a refusal), and the replay one `event.replay` row per event it took
 * or, of a selection, skipped (src/replay/replay.ts), which the event's page lists.
 */
export const eventBulkReplay = new Hono<ConsoleApp>();

eventBulkReplay.post("/replay", audited("event.bulk_replay", "event", { fixed: "*" }), async (c) => {
  const form = await c.req.parseBody({ all: true });
  const parsed = filtersSchema.safeParse(
    Object.fromEntries([...FILTER_FIELDS, "cursor"].map((field) => [field, form[field]])),
  );
  const filters: Filters = parsed.success ? parsed.data : {};
  const back = (notice: Record<string, string>) => {
    // A refusal also answers 303, so the audit row's count is what tells a run from a refusal.
    setAuditDetail(c, { replayed: Number(notice.replayed ?? 0) });
    return c.redirect(listUrl(filters, { cursor: filters.cursor, ...notice }), 303);
  };
  const actor = auditActorOf(c);
  const answer = (result: BulkReplayResult, notice: Record<string, string>) =>
    back("refused" in result ? { refused: result.refused } : { replayed: String(result.replayed), ...notice });

  if (form.scope === "matching") {
    const resolved = parsed.success ? resolveFilters(filters, clinicTimeZone(c.env)) : null;
    if (!resolved) return back({ refused: "invalid_filters" });
    if (filters.q) return back({ refused: "search" });
    if (!isBulkStatus(filters.status)) return back({ refused: "no_status" });
    const result = await replayEvents(
      c.env,
      {
        status: filters.status,
        type: filters.type,
        // The list's "from" includes its instant; the bulk filter's lower bound excludes it.
        receivedAfter: resolved.receivedFrom
          ? new Date(Date.parse(resolved.receivedFrom) - 1).toISOString()
          : undefined,
        receivedBefore: resolved.receivedBefore,
        limit: BULK_REPLAY_LIMIT,
        scope: narrowedTo(scopeOf(c), filters.clinic),
      },
      { actor },
    );
    return answer(result, { scope: "matching" });
  }

  const selection = selectionSchema.safeParse(form.event_id === undefined ? [] : [form.event_id].flat());
  if (!selection.success) return back({ refused: "none_selected" });
  const chosen = [...new Set(selection.data)];
  if (chosen.length > MAX_SELECTION) return back({ refused: "too_many" });
  // Only the identity's clinics' events: another clinic's id is dropped as an unknown one would be.
  const eventIds = await eventIdsInScope(c.env.DB, scopeOf(c), chosen);
  if (eventIds.length === 0) return back({ refused: "none_selected" });
  const result = await replaySelectedEvents(c.env, eventIds, { actor, scope: scopeOf(c) });
  return answer(result, { selected: String(eventIds.length) });
});
