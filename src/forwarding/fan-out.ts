import { type DeliveryKey, FAN_OUT_TAKE, fanOutState, fanOutTake } from "../db/deliveries";
import { enqueueAll } from "../queue/enqueue";

/**
 * Takes per run, shared by every destination: 40 × 200 changes (8,000 a run, about 130 a second at a
 * run a minute), 80 D1 queries and at most 80 queue sends, far inside an invocation's limits however
 * many destinations there are; a larger backlog is finished by the next runs.
 */
export const MAX_TAKES_PER_RUN = 40;

/**
 * Fans the change log out to every enabled destination: the changes after each one's cursor become
 * delivery rows (src/db/deliveries.ts `fanOutTake`, one batch per take), and their jobs go to the
 * `clinic-deliveries` queue. The destinations take turns, one take each, the furthest behind first,
 * so a large backlog of one never starves the others of the run's budget. Runs every minute (its own cron) and after each batch
 * of deliveries, never in the events consumer, which stays as fast with destinations as without. A job
 * lost on the way is re-sent by the sweep; a take repeated by a second run at once inserts nothing
 * twice. Answers how many jobs were enqueued.
 */
export async function fanOut(env: Env, now: Date): Promise<number> {
  const { destinations, newest } = await fanOutState(env.DB);
  const cursors = new Map(destinations.map((destination) => [destination, destination.fanout_cursor]));
  const jobs: DeliveryKey[] = [];
  let takes = 0;
  while (takes < MAX_TAKES_PER_RUN) {
    const behind = destinations.filter((destination) => (cursors.get(destination) ?? newest) < newest);
    if (behind.length === 0) break;
    for (const destination of behind.slice(0, MAX_TAKES_PER_RUN - takes)) {
      const cursor = cursors.get(destination) ?? newest;
      const upTo = Math.min(newest, cursor + FAN_OUT_TAKE);
      jobs.push(...(await fanOutTake(env.DB, { ...destination, fanout_cursor: cursor }, upTo, now.toISOString())));
      cursors.set(destination, upTo);
      takes += 1;
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
