import type { AuditActor } from "../db/audit";
import {
  type BulkReplayFilter,
  FORCE_REPLAYABLE,
  markQueuedForBulkReplay,
  markQueuedForReplay,
  REPLAYABLE,
  recordSkippedReplays,
  revertReplay,
} from "../db/event-requeue";
import type { EventStatus } from "../db/events";
import { getEventRow } from "../db/events";
import type { StaffScope } from "../db/scope";
import { log } from "../log";
import { requeueEvents } from "./requeue";

/**
 * Why a replay did not happen: no such event, its payload was purged by retention, its status does
 * not allow it (`status` says which), or nothing could be sent to the queue (retry later).
 */
export type ReplayRefusal =
  | { refused: "not_found" }
  | { refused: "payload_purged" }
  | { refused: "not_replayable"; status: EventStatus }
  | { refused: "enqueue_failed" };

/**
 * What a single replay did: queued again (from `previous_status`), or refused; `clinicId` is the
 * event's clinic whenever the event was found (the request's audit row records it).
 */
export type ReplayResult = (
  | { replayed: { event_id: string; status: "queued"; previous_status: EventStatus } }
  | ReplayRefusal
) & { clinicId?: string };

/** What a bulk replay did: how many events were queued again, or refused when none could be sent. */
export type BulkReplayResult = { replayed: number } | { refused: "enqueue_failed" };

/** A refusal in one sentence for whoever asked (the admin API's message, the console's notice). */
export function refusalText(refusal: ReplayRefusal): string {
  switch (refusal.refused) {
    case "not_found":
      return "No event has this id.";
    case "payload_purged":
      return "This event's payload was removed by the retention policy; it cannot be replayed.";
    case "not_replayable":
      return `An event with status ${refusal.status} is replayed only with force=true, and never while queued or processing.`;
    case "enqueue_failed":
      return "The replay could not be queued; retry later.";
  }
}

/**
 * Re-runs one stored event: moves it to `queued` (only from a replayable status, or a finished one
 * with `force`) and sends its stored envelope to the events queue, undoing the status change when the
 * send fails. The one replay path of the admin API and the console; the bulk re-drive shares its
 * compare-and-set and its enqueue ({@link replayEvents}).
 */
export async function replayEvent(
  env: Env,
  eventId: string,
  options: { force: boolean; requestId: string | null; scope: StaffScope },
): Promise<ReplayResult> {
  // Read within the caller's clinics: another clinic's event is `not_found`, as an unknown one is.
  const row = await getEventRow(env.DB, options.scope, eventId);
  if (!row) return { refused: "not_found" };
  if (row.payload === null) return { refused: "payload_purged", clinicId: row.clinic_id };
  const previous = await markQueuedForReplay(
    env.DB,
    eventId,
    options.force ? FORCE_REPLAYABLE : REPLAYABLE,
    new Date().toISOString(),
  );
  if (!previous) return { refused: "not_replayable", status: row.status, clinicId: row.clinic_id };
  const { failed } = await requeueEvents(env, [{ ...row, payload: row.payload }], options.requestId);
  if (failed.length > 0) {
    // If the revert fails too, the stuck-event sweep re-enqueues it within minutes.
    await revertReplay(env.DB, [eventId], previous);
    return { refused: "enqueue_failed", clinicId: row.clinic_id };
  }
  log.info("event replay queued", { event_id: eventId, previous_status: previous, force: options.force });
  return { replayed: { event_id: eventId, status: "queued", previous_status: previous }, clinicId: row.clinic_id };
}

/**
 * Bulk re-drive: moves every event matching `filter` (up to its limit) to `queued` and enqueues it,
 * through the same compare-and-set and enqueue as {@link replayEvent}. Each event taken gets its own
 * `event.replay` audit row (who, when, outcome) in the same D1 batch as the move, so its page lists
 * the replay as it lists a single one; the request's `event.bulk_replay` row keeps the count.
 * Idempotent: a second call finds them `queued` (or done) and takes none. Events whose enqueue failed
 * go back to their status and their rows to `error`. Answers how many were enqueued; refused
 * (`enqueue_failed`) when some matched and none could be sent.
 */
export async function replayEvents(
  env: Env,
  filter: BulkReplayFilter,
  options: { actor: AuditActor },
): Promise<BulkReplayResult> {
  const { taken, result } = await replayMatching(env, filter, options.actor, new Date().toISOString());
  const replayed = "replayed" in result ? result.replayed : 0;
  log.info("bulk replay queued", { status: filter.status, matched: taken.length, replayed });
  return result;
}

/** {@link replayEvents} at `now`, also answering the ids it took (sent or reverted). */
async function replayMatching(
  env: Env,
  filter: BulkReplayFilter,
  actor: AuditActor,
  now: string,
): Promise<{ taken: string[]; result: BulkReplayResult }> {
  const { rows, auditIds } = await markQueuedForBulkReplay(env.DB, filter, now, actor);
  const { sent, failed } = await requeueEvents(env, rows, actor.requestId);
  if (failed.length > 0) {
    const failedRows = failed.flatMap((eventId) => auditIds.get(eventId) ?? []);
    await revertReplay(env.DB, failed, filter.status, failedRows);
  }
  const taken = rows.map((row) => row.event_id);
  if (sent.length === 0 && failed.length > 0) return { taken, result: { refused: "enqueue_failed" } };
  return { taken, result: { replayed: sent.length } };
}

/**
 * Replays the chosen events (the console's selection) that are still `dead`, `failed` or `invalid`:
 * one bulk move per replayable status, so the selection shares the bulk re-drive's compare-and-set,
 * enqueue and per-event audit rows and costs the same few statements however many are chosen. Events
 * in any other status (queued, processing, finished) are left alone and not counted; each gets an
 * `event.replay` row `rejected` 409, so its page says the replay skipped it. Refused
 * (`enqueue_failed`) when some matched and none could be sent.
 */
export async function replaySelectedEvents(
  env: Env,
  eventIds: readonly string[],
  options: { actor: AuditActor; scope: StaffScope },
): Promise<BulkReplayResult> {
  const now = new Date().toISOString();
  let replayed = 0;
  let enqueueFailed = false;
  const taken: string[] = [];
  for (const status of ["dead", "failed", "invalid"] as const) {
    const run = await replayMatching(
      env,
      { status, eventIds, limit: eventIds.length, scope: options.scope },
      options.actor,
      now,
    );
    taken.push(...run.taken);
    if ("refused" in run.result) enqueueFailed = true;
    else replayed += run.result.replayed;
  }
  if (taken.length < eventIds.length)
    await recordSkippedReplays(env.DB, eventIds, taken, now, options.actor, options.scope);
  log.info("selected replay queued", { selected: eventIds.length, taken: taken.length, replayed });
  if (replayed === 0 && enqueueFailed) return { refused: "enqueue_failed" };
  return { replayed };
}
