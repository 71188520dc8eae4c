import {
  type BulkReplayFilter,
  type EventRow,
  FORCE_REPLAYABLE,
  getEventRow,
  markQueuedForBulkReplay,
  markQueuedForReplay,
  REPLAYABLE,
  revertReplay,
} from "../db/events";
import { ALL_CLINICS } from "../db/scope";
import { log } from "../log";
import { requeueEvents } from "../queue/requeue";
import { ApiError } from "./errors";

/** The event row, or the contract's 404. */
export async function findEvent(db: D1Database, eventId: string): Promise<EventRow> {
  const row = await getEventRow(db, ALL_CLINICS, eventId);
  if (!row) throw new ApiError(404, "not_found", "No event has this id.");
  return row;
}

/**
 * Re-runs one stored event: moves it to `queued` (only from a replayable status, or a finished one
 * with `force`) and sends its stored envelope to the events queue, undoing the status change when the
 * send fails. The one replay path of the admin API and the console; the bulk re-drive shares its
 * compare-and-set and its enqueue ({@link replayEvents}). Throws {@link ApiError} 404, 409
 * (`payload_purged`, `not_replayable`) or 503 (`enqueue_failed`).
 */
export async function replayEvent(
  env: Env,
  eventId: string,
  options: { force: boolean; requestId: string | null },
): Promise<{ event_id: string; status: "queued"; previous_status: EventRow["status"] }> {
  const row = await findEvent(env.DB, eventId);
  if (row.payload === null) {
    throw new ApiError(
      409,
      "payload_purged",
      "This event's payload was removed by the retention policy; it cannot be replayed.",
    );
  }
  const previous = await markQueuedForReplay(
    env.DB,
    eventId,
    options.force ? FORCE_REPLAYABLE : REPLAYABLE,
    new Date().toISOString(),
  );
  if (!previous) {
    throw new ApiError(
      409,
      "not_replayable",
      `An event with status ${row.status} is replayed only with force=true, and never while queued or processing.`,
    );
  }
  const { failed } = await requeueEvents(env, [{ ...row, payload: row.payload }], options.requestId);
  if (failed.length > 0) {
    // If the revert fails too, the stuck-event sweep re-enqueues it within minutes.
    await revertReplay(env.DB, [eventId], previous);
    throw new ApiError(503, "enqueue_failed", "The replay could not be queued; retry later.", {
      headers: { "Retry-After": "30" },
    });
  }
  log.info("event replay queued", { event_id: eventId, previous_status: previous, force: options.force });
  return { event_id: eventId, status: "queued", previous_status: previous };
}

/**
 * Bulk re-drive: moves every event matching `filter` (up to its limit) to `queued` and enqueues it,
 * through the same compare-and-set and enqueue as {@link replayEvent}. Idempotent: a second call finds
 * them `queued` (or done) and takes none. Events whose enqueue failed go back to their status.
 * Returns how many were enqueued; 503 `enqueue_failed` when some matched and none could be sent.
 */
export async function replayEvents(
  env: Env,
  filter: BulkReplayFilter,
  options: { requestId: string | null },
): Promise<{ replayed: number }> {
  const rows = await markQueuedForBulkReplay(env.DB, filter, new Date().toISOString());
  const { sent, failed } = await requeueEvents(env, rows, options.requestId);
  if (failed.length > 0) await revertReplay(env.DB, failed, filter.status);
  log.info("bulk replay queued", { status: filter.status, matched: rows.length, replayed: sent.length });
  if (sent.length === 0 && failed.length > 0) {
    throw new ApiError(503, "enqueue_failed", "The replay could not be queued; retry later.", {
      headers: { "Retry-After": "30" },
    });
  }
  return { replayed: sent.length };
}

/**
 * Replays the chosen events (the console's selection) that are still `dead`, `failed` or `invalid`:
 * one {@link replayEvents} per replayable status, so the selection shares the bulk re-drive's
 * compare-and-set and enqueue and costs the same few statements however many are chosen. Events in
 * any other status (queued, processing, finished) are left alone and not counted. Throws 503
 * `enqueue_failed` when some matched and none could be sent.
 */
export async function replaySelectedEvents(
  env: Env,
  eventIds: readonly string[],
  options: { requestId: string | null },
): Promise<{ replayed: number }> {
  let replayed = 0;
  let enqueueFailed = false;
  for (const status of ["dead", "failed", "invalid"] as const) {
    try {
      replayed += (await replayEvents(env, { status, eventIds, limit: eventIds.length }, options)).replayed;
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 503)) throw error;
      enqueueFailed = true;
    }
  }
  if (replayed === 0 && enqueueFailed) {
    throw new ApiError(503, "enqueue_failed", "The replay could not be queued; retry later.", {
      headers: { "Retry-After": "30" },
    });
  }
  return { replayed };
}
