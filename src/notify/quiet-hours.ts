import { firstOffsetChange, instantClockReaches, localTime } from "../time-zone";

/**
 * The SMS send window (default 08:00–21:00) in the patient's time zone. Only SMS is held back:
 * a text at night wakes a patient, an email waits quietly in the inbox.
 */

/** The longest delay a queue message may carry (Cloudflare Queues: 12 hours). */
export const MAX_QUEUE_DELAY_SECONDS = 12 * 60 * 60;

/** Days ahead to look for an opening: a window can vanish into a DST gap on one day, never on three. */
const OPENING_SEARCH_DAYS = 3;

/**
 * When an SMS may go out: `null` if `now` is inside the window in `timeZone`, otherwise the next
 * opening of the window (today's if it has not opened yet, else the next day's), always strictly after
 * `now` and inside the window. A start inside a DST gap (02:30 on New York's spring-forward night,
 * 00:00 where the clock jumps at midnight) opens when the gap ends; a window wholly inside the gap
 * does not open that day. Resolving such a start naively gives an instant before the jump, at or
 * before `now`, and the job would come back every second until the clock caught up.
 */
export function nextSmsWindowOpening(now: Date, timeZone: string, window: { start: number; end: number }): Date | null {
  const inWindow = (minutes: number) => minutes >= window.start && minutes < window.end;
  const local = localTime(now.getTime(), timeZone);
  if (inWindow(local.minutes)) return null;
  for (let days = 0; days < OPENING_SEARCH_DAYS; days += 1) {
    // Date.UTC normalises a day past the month's end.
    const date = new Date(Date.UTC(local.year, local.month - 1, local.day + days));
    const opening = instantClockReaches(
      date.getUTCFullYear(),
      date.getUTCMonth() + 1,
      date.getUTCDate(),
      window.start,
      timeZone,
      now.getTime(),
    );
    if (opening === null || !inWindow(localTime(opening, timeZone).minutes)) continue;
    // A clock set back before then may land inside the window first (a window ending 01:30, at 01:45
    // on New York's fall-back night: the clock reads 01:00 again a quarter of an hour later).
    const change = firstOffsetChange(now.getTime(), opening, timeZone);
    return new Date(change !== null && inWindow(localTime(change, timeZone).minutes) ? change : opening);
  }
  throw new Error(`no SMS window opening within ${OPENING_SEARCH_DAYS} days`);
}

/** The delay for the next hop towards `opening`: at most the queue's 12-hour limit. */
export function hopDelaySeconds(now: Date, opening: Date): number {
  return Math.max(1, Math.min(MAX_QUEUE_DELAY_SECONDS, Math.ceil((opening.getTime() - now.getTime()) / 1000)));
}
