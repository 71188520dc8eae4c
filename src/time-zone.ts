/**
 * Wall-clock time in IANA time zones, with the runtime's Intl data: the one place that turns an
 * instant into a zone's local date and time and back (quiet hours, daily caps, the console's
 * clinic-time filters). A leaf module: it imports nothing of ours.
 */

/** True when `zone` is an IANA time zone this runtime knows (e.g. `America/New_York`). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A zone's local calendar date and time of day at some instant. */
export interface LocalTime {
  year: number;
  month: number;
  day: number;
  /** Minutes since local midnight. */
  minutes: number;
  seconds: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * An `Intl.DateTimeFormat` for one purpose (a fixed set of `options`) in one zone, built once: building
 * one costs far more than using it, and quiet hours and every console time call this per item.
 */
export function zoneFormatter(purpose: string, timeZone: string, options: Intl.DateTimeFormatOptions) {
  const key = `${purpose}\n${timeZone}`;
  let format = formatters.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", { ...options, timeZone });
    formatters.set(key, format);
  }
  return format;
}

/** The parts `localTime` reads: numeric date and 24-hour time. */
const PARTS: Intl.DateTimeFormatOptions = {
  hourCycle: "h23",
  year: "numeric",
  month: "numeric",
  day: "numeric",
  hour: "numeric",
  minute: "numeric",
  second: "numeric",
};

/** The local date and time in `timeZone` at `instant` (epoch milliseconds). */
export function localTime(instant: number, timeZone: string): LocalTime {
  const parts = Object.fromEntries(
    zoneFormatter("parts", timeZone, PARTS)
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

/** The calendar date (YYYY-MM-DD) of an instant in a time zone. */
export function localDate(instant: number, timeZone: string): string {
  const { year, month, day } = localTime(instant, timeZone);
  return `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
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

/**
 * The UTC instant (epoch ms) of a local wall-clock time, correct across DST changes: resolved twice,
 * so a change of offset between the guess and the answer is accounted for.
 */
export function zonedToUtc(year: number, month: number, day: number, minutes: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day, Math.floor(minutes / 60), minutes % 60);
  const first = wall - offsetAt(wall, timeZone);
  return wall - offsetAt(first, timeZone);
}

/** Every IANA offset lies between UTC-12 and UTC+14. */
const MOST_AHEAD_SECONDS = 14 * 3600;
const MOST_BEHIND_SECONDS = 12 * 3600;

/** What the zone's wall clock reads at `second` (epoch seconds), as epoch seconds of that reading taken as UTC. */
function wallClockAt(second: number, timeZone: string): number {
  const local = localTime(second * 1000, timeZone);
  return Date.UTC(local.year, local.month - 1, local.day, 0, local.minutes, local.seconds) / 1000;
}

/**
 * The first instant after `after` (epoch ms) at which the zone's wall clock, counting up, reaches the
 * local time `minutes` on the given date, as a whole second; null when it does not within the 26 hours
 * around it (the clock has already passed it). Unlike {@link zonedToUtc}, never an instant whose clock
 * still reads an earlier time: a time inside a DST gap (02:30 on New York's spring-forward night, 00:00
 * where the jump is at midnight) is reached when the gap ends (03:00, 01:00), as the clock jumps past
 * it; a time the clock reads twice (a fall-back night) is reached at its first reading after `after`.
 */
export function instantClockReaches(
  year: number,
  month: number,
  day: number,
  minutes: number,
  timeZone: string,
  after: number,
): number | null {
  const wall = Date.UTC(year, month - 1, day, Math.floor(minutes / 60), minutes % 60) / 1000;
  const afterSecond = Math.floor(after / 1000);
  const readsAtLeast = (second: number) => wallClockAt(second, timeZone) >= wall;
  const reachedAt = (second: number) => second > afterSecond && readsAtLeast(second) && !readsAtLeast(second - 1);
  // A time the clock reads is read at `wall - offset` for an offset in force around it: one offset
  // on most days, two on a fall-back night (a day before and after covers both).
  const guess = zonedToUtc(year, month, day, minutes, timeZone) / 1000;
  const readings = [guess - 86_400, guess, guess + 86_400]
    .map((probe) => wall - (wallClockAt(probe, timeZone) - probe))
    .filter(reachedAt);
  if (readings.length > 0) return Math.min(...readings) * 1000;
  // A time inside a gap: the clock reads less than `wall` at `low` and at least `wall` at `high`,
  // whatever the zone's offset; a binary search to the second finds the jump past it.
  let low = Math.max(wall - MOST_AHEAD_SECONDS - 1, afterSecond);
  let high = wall + MOST_BEHIND_SECONDS;
  if (low >= high || readsAtLeast(low)) return null;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (readsAtLeast(middle)) high = middle;
    else low = middle;
  }
  return high * 1000;
}

/**
 * The first instant in (`from`, `to`] (epoch ms, whole seconds) at which the zone's offset differs
 * from its offset at `from`, or null when it is the same at `to` (one change at most is expected
 * between them: zones change offset months apart).
 */
export function firstOffsetChange(from: number, to: number, timeZone: string): number | null {
  const offset = (second: number) => wallClockAt(second, timeZone) - second;
  let low = Math.floor(from / 1000);
  let high = Math.floor(to / 1000);
  const before = offset(low);
  if (high <= low || offset(high) === before) return null;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (offset(middle) === before) low = middle;
    else high = middle;
  }
  return high * 1000;
}
