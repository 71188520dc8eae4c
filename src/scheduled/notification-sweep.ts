import { takeStaleNotifications } from "../db/notification-outbox";
import { log } from "../log";
import { enqueueSendJobs } from "../notify/outbox";
import { sweepOutbox } from "../outbox/sweep";

/** An outbox row untouched this long has lost its send job (or its scheduled job). */
export const STALE_AFTER_MS = 5 * 60_000;
const SWEEP_CHUNK = 500;
const SWEEP_MAX_CHUNKS = 10;

/**
 * Re-enqueues outbox rows left `pending` (their enqueue after the D1 commit failed or was lost) or
 * `scheduled` past their window opening. The sender's lease and claim make a second job harmless.
 */
export async function sweepNotifications(env: Env, now: Date): Promise<number> {
  const staleBefore = new Date(now.getTime() - STALE_AFTER_MS).toISOString();
  const enqueued = await sweepOutbox(
    (limit) => takeStaleNotifications(env.DB, staleBefore, now.toISOString(), limit),
    (jobs) => enqueueSendJobs(env, jobs),
    { chunk: SWEEP_CHUNK, maxChunks: SWEEP_MAX_CHUNKS },
  );
  log.info("notification sweep", { enqueued });
  return enqueued;
}
