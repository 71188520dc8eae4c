import { type DeliveryKey, FAN_OUT_TAKE, fanOutState, fanOutTake } from "../db/deliveries";
import { enqueueAll } from "../queue/enqueue";

/**
 * Takes per destination per run: 25 × 200 changes, 5,000 a minute per destination (about 80 a
 * second); a larger backlog is finished by the next runs. Each take is 3 D1 queries.
 */
const MAX_TAKES = 25;

/**
 * Fans the change log out to every enabled destination: for each, the changes after its cursor
 * become delivery rows (src/db/deliveries.ts `fanOutTake`, one batch per take), and their jobs go to
 * the `clinic-deliveries` queue. Runs every minute (its own cron) and after each batch of deliveries,
 * never in the events consumer, which stays as fast with destinations as without. A job lost on the
 * way is re-sent by the sweep; a take repeated by a second run at once inserts nothing twice.
 * Answers how many jobs were enqueued.
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
    body: { change_id: job.change_id, destination_id: job.destination_id },
    ...(delays?.has(job) ? { delaySeconds: delays.get(job) } : {}),
  }));
  return result.sent.length;
}
