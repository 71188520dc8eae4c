/**
 * The SMS send window (default 08:00–21:00) in the patient's time zone. Only SMS is held back:
 * a text at night wakes a patient, an email waits quietly in the inbox.
 */

/** The longest delay a queue message may carry (Cloudflare Queues: 12 hours). */
export const MAX_QUEUE_DELAY_SECONDS = 12 * 60 * 60;

interface LocalTime {
  year: number;
  month: number;
  day: number;
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** The calendar date (YYYY-MM-DD) of an instant in a time zone: the patient's "day" for the daily cap. */
export function localDate(instant: number, timeZone: string): string {
  const { year, month, day } = localTime(instant, timeZone);
  return `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

function localTime(instant: number, timeZone: string): LocalTime & { seconds: number } {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(new Date(instant))
      .map((part) => [part.type, part.value]),
  );
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
    seconds: Number(parts.second),
  };
}

/** Milliseconds the zone is ahead of UTC at `instant`. */
function offsetAt(instant: number, timeZone: string): number {
  const local = localTime(instant, timeZone);
  const asUtc = Date.UTC(
    local.year,
    local.month - 1,
    local.day,
    Math.floor(local.minutes / 60),
    local.minutes % 60,
    local.seconds,
  );
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/** The UTC instant of a local wall-clock time, correct across DST changes. */
function zonedToUtc(year: number, month: number, day: number, minutes: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day, Math.floor(minutes / 60), minutes % 60);
  const first = wall - offsetAt(wall, timeZone);
  const second = wall - offsetAt(first, timeZone);
  return second;
}

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
