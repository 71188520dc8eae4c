/** First retry delay on `novamed-events`; each further attempt doubles it. */
const BASE_DELAY_SECONDS = 10;
/** Cap on one delay: 15 minutes keeps ten retries within about an hour, like NovaMed's own schedule. */
export const MAX_DELAY_SECONDS = 15 * 60;

/**
 * Exponential backoff with jitter for a message on its `attempts`-th delivery (1-based): between half
 * and all of `BASE · 2^(attempts-1)`, capped. Jitter spreads retries of a failed batch apart so they
 * do not hit D1 together again.
 */
export function retryDelaySeconds(attempts: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(attempts - 1, 20));
  const ceiling = Math.min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** exponent);
  return Math.max(1, Math.round(ceiling / 2 + (ceiling / 2) * random()));
}

/** First retry delay on `novamed-events-dlq`: the main queue already spent its hour. */
const DEAD_LETTER_BASE_DELAY_SECONDS = 5 * 60;
/** The longest delay Cloudflare Queues accepts on `retry()` or `send()` (12 hours). */
export const QUEUES_MAX_DELAY_SECONDS = 12 * 60 * 60;
/** Share of the ceiling a dead-letter delay is at least: little jitter, so the schedule is predictable. */
const DEAD_LETTER_JITTER_FLOOR = 0.9;

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
  const exponent = Math.max(0, Math.min(attempts - 1, 20));
  const ceiling = Math.min(QUEUES_MAX_DELAY_SECONDS, DEAD_LETTER_BASE_DELAY_SECONDS * 2 ** exponent);
  return Math.max(1, Math.round(ceiling * (DEAD_LETTER_JITTER_FLOOR + (1 - DEAD_LETTER_JITTER_FLOOR) * random())));
}
