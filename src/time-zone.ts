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
