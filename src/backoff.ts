/**
 * An exponential backoff: the `attempts`-th try (1-based) waits `baseSeconds · 2^(attempts-1)`, capped
 * at `capSeconds`, of which at least `jitterFloor` (a share) and at most all. Every retry schedule
 * (the queues', and each outbox path's) is one of these.
 */
export interface BackoffSchedule {
  baseSeconds: number;
  capSeconds: number;
  jitterFloor: number;
}

/** The delay in whole seconds (at least 1) before the try after the `attempts`-th. */
export function backoffSeconds(
  schedule: BackoffSchedule,
  attempts: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, Math.min(attempts - 1, 20));
  const ceiling = Math.min(schedule.capSeconds, schedule.baseSeconds * 2 ** exponent);
  const floor = ceiling * schedule.jitterFloor;
  return Math.max(1, Math.round(floor + (ceiling - floor) * random()));
}

/** Cap on one delay: 15 minutes keeps ten retries within about an hour, like NovaMed's own schedule. */
export const MAX_DELAY_SECONDS = 15 * 60;

/**
 * `novamed-events` and `patient-notifications`: 10 s doubling, capped, between half and all of it.
 * Jitter spreads retries of a failed batch apart so they do not hit D1 together again.
 */
export const QUEUE_BACKOFF: BackoffSchedule = { baseSeconds: 10, capSeconds: MAX_DELAY_SECONDS, jitterFloor: 0.5 };

/** The main queues' backoff for a message on its `attempts`-th delivery (1-based). */
export function retryDelaySeconds(attempts: number, random: () => number = Math.random): number {
  return backoffSeconds(QUEUE_BACKOFF, attempts, random);
}

/** The longest delay Cloudflare Queues accepts on `retry()` or `send()` (12 hours). */
export const QUEUES_MAX_DELAY_SECONDS = 12 * 60 * 60;

/**
 * `novamed-events-dlq`: 5 min (the main queue already spent its hour) doubling to Queues' maximum,
 * with little jitter (at least 90%), so the schedule is predictable.
 */
export const DEAD_LETTER_BACKOFF: BackoffSchedule = {
  baseSeconds: 5 * 60,
  capSeconds: QUEUES_MAX_DELAY_SECONDS,
  jitterFloor: 0.9,
};

/**
 * `max_retries` of the `novamed-events-dlq` consumer in wrangler.toml (a Node test keeps the two
 * equal): a message is delivered at most this many times plus one, and then deleted.
 */
export const DEAD_LETTER_MAX_RETRIES = 20;

/**
 * The delivery from which the dead-letter consumer re-spools a message it cannot apply (D1 still
 * down) instead of retrying it (see dead-letter-consumer.ts). Well before the last delivery, so a
 * re-spool that fails is retried and re-spooled again: deliveries 14 to 21 are eight tries.
 */
export const DEAD_LETTER_RESPOOL_FROM_ATTEMPT = 14;

/**
 * Delay before the next try after a failed re-spool: short, since only the send to Queues is
 * missing, and small enough that all the remaining tries fit in the queue's retention.
 */
export const RESPOOL_RETRY_DELAY_SECONDS = 30 * 60;

/**
 * Backoff on the dead-letter path, sized for a D1 outage of days: `5 min · 2^(attempts-1)` capped at
 * Queues' 12-hour maximum, between 90% and all of it. Thirteen of these add up to 73–81 hours, which
 * stays inside the queue's default 4-day message retention (docs/architecture.md, "What survives what").
 */
export function deadLetterRetryDelaySeconds(attempts: number, random: () => number = Math.random): number {
  return backoffSeconds(DEAD_LETTER_BACKOFF, attempts, random);
}
