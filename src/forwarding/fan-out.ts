import { type DeliveryKey, FAN_OUT_TAKE, fanOutState, fanOutTake } from "../db/deliveries";
import { errorKind, log } from "../log";
import { enqueueAll } from "../queue/enqueue";

/** Takes per destination per run: 10 × 200 changes; a larger backlog is finished by the next runs. */
const MAX_TAKES = 10;

/** A message of the `clinic-deliveries` queue: one delivery job, or a nudge to fan out new changes. */
export type DeliveryMessage = DeliveryKey | { fan_out: true };

/**
 * Fans the change log out to every enabled destination: for each, the changes after its cursor
 * become delivery rows (src/db/deliveries.ts `fanOutTake`, one batch per take), and their jobs go to
 * the `clinic-deliveries` queue. A job lost on the way is re-sent by the sweep; a take repeated by a
 * second run at once inserts nothing twice. Answers how many jobs were enqueued.
 */
export async function fanOut(env: Env, now: Date): Promise<number> {
  const { destinations, newest } = await fanOutState(env.DB);
  const jobs: DeliveryKey[] = [];
  for (const destination of destinations) {
    let cursor = destination.fanout_cursor;
    for (let take = 0; take < MAX_TAKES && cursor < newest; take += 1) {
      const upTo = Math.min(newest, cursor + FAN_OUT_TAKE);
      jobs.push(...(await fanOutTake(env.DB, { ...destination, fanout_cursor: cursor }, upTo, now.toISOString())));
      cursor = upTo;
    }
  }
  return enqueueDeliveryJobs(env, jobs);
}

/** Sends delivery jobs (with an optional delay each); answers how many went. */
export async function enqueueDeliveryJobs(
  env: Env,
  jobs: readonly DeliveryKey[],
  delays?: ReadonlyMap<DeliveryKey, number>,
): Promise<number> {
  const result = await enqueueAll(env.DELIVERIES, jobs, (job) => ({
    body: { change_id: job.change_id, destination_id: job.destination_id } satisfies DeliveryMessage,
    ...(delays?.has(job) ? { delaySeconds: delays.get(job) } : {}),
  }));
  return result.sent.length;
}

/**
 * After an events batch: when some destination is enabled, one `fan_out` message to the
 * `clinic-deliveries` queue, so its consumer (not the events consumer) fans the new changes out.
 * One indexed read per batch otherwise; never throws (the 5-minute sweep fans out what a lost nudge
 * left behind).
 */
export async function nudgeForwarding(env: Env): Promise<void> {
  try {
    const any = await env.DB.prepare(`SELECT 1 AS any FROM destinations WHERE enabled = 1 LIMIT 1`).first();
    if (any) await env.DELIVERIES.send({ fan_out: true } satisfies DeliveryMessage);
  } catch (error) {
    log.warn("forwarding nudge not sent; the sweep fans out", { error: errorKind(error) });
  }
}
