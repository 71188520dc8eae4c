import { takeStuckEvents } from "../db/event-requeue";
import { log } from "../log";
import { requeueEvents } from "../replay/requeue";

/**
 * An event `queued` this long has lost its message (the Worker died between the status change and
 * the send, or the send and its revert both failed); a lease expired this long ago belongs to a
 * consumer that died. Both are well past any live delivery: a replay's message arrives in seconds and
 * a lease lasts two minutes.
 */
export const STUCK_AFTER_MS = 5 * 60_000;
export const SWEEP_CHUNK = 100;
export const SWEEP_MAX_CHUNKS = 10;

/**
 * Re-enqueues events nothing is left to deliver (see {@link takeStuckEvents}), oldest first, at most
 * `SWEEP_MAX_CHUNKS` takes of `SWEEP_CHUNK` per run. One that cannot be sent stays `queued` with a
 * fresh `queued_at`: the next runs take it again by age, after the events that waited longer. A run
 * goes on past a partly failed send and stops when a take sent nothing (the queue is down; the next
 * run tries again). Returns how many were sent.
 */
export async function sweepStuckEvents(env: Env, now: Date): Promise<number> {
  const cutoff = now.getTime() - STUCK_AFTER_MS;
  let sent = 0;
  let failed = 0;
  for (let chunk = 0; chunk < SWEEP_MAX_CHUNKS; chunk += 1) {
    const rows = await takeStuckEvents(env.DB, new Date(cutoff).toISOString(), cutoff, now.toISOString(), SWEEP_CHUNK);
    const result = await requeueEvents(env, rows, null);
    sent += result.sent.length;
    failed += result.failed.length;
    if (rows.length < SWEEP_CHUNK || result.sent.length === 0) break;
  }
  log.info("stuck event sweep", { sent, failed });
  return sent;
}
