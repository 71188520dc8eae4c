import { localTime, zonedToUtc } from "../time-zone";

/**
 * The SMS send window (default 08:00–21:00) in the patient's time zone. Only SMS is held back:
 * a text at night wakes a patient, an email waits quietly in the inbox.
 */

/** The longest delay a queue message may carry (Cloudflare Queues: 12 hours). */
export const MAX_QUEUE_DELAY_SECONDS = 12 * 60 * 60;

/**
 * When an SMS may go out: `null` if `now` is inside the window in `timeZone`, otherwise the next
 * opening of the window (today's if it has not opened yet, else tomorrow's).
 */
export function nextSmsWindowOpening(now: Date, timeZone: string, window: { start: number; end: number }): Date | null {
  const local = localTime(now.getTime(), timeZone);
  if (local.minutes >= window.start && local.minutes < window.end) return null;
  if (local.minutes < window.start)
    return new Date(zonedToUtc(local.year, local.month, local.day, window.start, timeZone));
  // After the window closed: tomorrow's opening (Date.UTC normalises the day past month end).
  const tomorrow = new Date(Date.UTC(local.year, local.month - 1, local.day + 1));
  return new Date(
    zonedToUtc(tomorrow.getUTCFullYear(), tomorrow.getUTCMonth() + 1, tomorrow.getUTCDate(), window.start, timeZone),
  );
}

/** The delay for the next hop towards `opening`: at most the queue's 12-hour limit. */
export function hopDelaySeconds(now: Date, opening: Date): number {
  return Math.max(1, Math.min(MAX_QUEUE_DELAY_SECONDS, Math.ceil((opening.getTime() - now.getTime()) / 1000)));
}
