import { retryDelaySeconds } from "../backoff";
import { errorKind, log } from "../log";

/** What a dead-letter queue of one outbox path needs to know. */
export interface DeadLetterPath<Job> {
  /** Names the path in log lines (`notification`: "notification dead"). */
  noun: string;
  /** A message body as a job, or null when unreadable (acked without effect). */
  readJob(body: unknown): Job | null;
  /** Marks the jobs' rows failed where the outbox allows it (its `deadLetter`); answers how many. */
  fail(env: Env, jobs: readonly Job[], nowMs: number): Promise<number>;
  /** The ids of a job for its log line (never contact details). */
  ids(job: Job): Record<string, string>;
}

/**
 * A dead-letter consumer for an outbox path: the jobs whose retries ran out mark their rows `failed`
 * in one round trip (a row held under a live lease, or whose last call has an unknown outcome, stays
 * with the claimer and the sweep). While D1 cannot take that, every message is retried.
 */
export async function consumeOutboxDeadLetters<Job>(
  batch: MessageBatch<unknown>,
  env: Env,
  path: DeadLetterPath<Job>,
): Promise<void> {
  const jobs = batch.messages.flatMap((message) => path.readJob(message.body) ?? []);
  let failed: number;
  try {
    failed = await path.fail(env, jobs, Date.now());
  } catch (error) {
    log.error(`dead ${path.noun} jobs not stored; will retry`, { queue: batch.queue, error: errorKind(error) });
    for (const message of batch.messages) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    return;
  }
  for (const message of batch.messages) message.ack();
  for (const job of jobs) log.error(`${path.noun} dead`, path.ids(job));
  if (failed < jobs.length)
    log.info(`dead ${path.noun} jobs not marked failed (final, leased, or outcome unknown)`, {
      jobs: jobs.length - failed,
    });
}
