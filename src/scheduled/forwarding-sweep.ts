import { takeStaleDeliveries } from "../db/deliveries";
import { enqueueDeliveryJobs, fanOut } from "../forwarding/fan-out";
import { log } from "../log";
import { sweepOutbox } from "../outbox/sweep";
import { STALE_AFTER_MS } from "./notification-sweep";

/**
 * Every 5 minutes: fans out changes no nudge announced (a notification's status, a lost nudge), and
 * re-enqueues delivery rows whose job was lost or whose retry is due (`next_attempt_at` passed: a
 * wait longer than Queues' 12-hour delay, or a paused destination's probe).
 */
export async function sweepForwarding(env: Env, now: Date): Promise<number> {
  const fannedOut = await fanOut(env, now);
  const staleBefore = new Date(now.getTime() - STALE_AFTER_MS).toISOString();
  const swept = await sweepOutbox(
    (limit) => takeStaleDeliveries(env.DB, staleBefore, now.toISOString(), limit),
    (jobs) => enqueueDeliveryJobs(env, jobs),
    { chunk: 500, maxChunks: 10 },
  );
  log.info("forwarding sweep", { fanned_out: fannedOut, swept });
  return fannedOut + swept;
}
