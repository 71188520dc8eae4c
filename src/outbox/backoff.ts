import { type BackoffSchedule, backoffSeconds, QUEUES_MAX_DELAY_SECONDS } from "../backoff";

/**
 * When an outbox row's next try is due: its schedule's backoff, or later when the other side asked
 * for it (`Retry-After`), never past Queues' longest delay (a longer wait is a give-back with
 * `next_attempt_at` for the sweep).
 */
export function nextTrySeconds(
  schedule: BackoffSchedule,
  attempts: number,
  retryAfterSeconds: number | null = null,
  random: () => number = Math.random,
): number {
  const backoff = backoffSeconds(schedule, attempts, random);
  return Math.min(QUEUES_MAX_DELAY_SECONDS, Math.max(backoff, retryAfterSeconds ?? 0));
}

/**
 * A `Retry-After` header in seconds from `nowMs`: delta-seconds or an HTTP date (RFC 9110 §10.2.3);
 * null when absent or unreadable, 0 for a date already past.
 */
export function retryAfterSeconds(header: string | null, nowMs: number): number | null {
  const value = header?.trim() ?? "";
  if (value === "") return null;
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/** The time the `tries` tries of a schedule can wait in all, at the least (every jitter at its floor). */
export function scheduleSpanSeconds(schedule: BackoffSchedule, tries: number): number {
  let total = 0;
  for (let attempts = 1; attempts <= tries; attempts += 1) total += backoffSeconds(schedule, attempts, () => 0);
  return total;
}
