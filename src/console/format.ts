/** Formatting for console pages: instants in the clinic's time zone, ages, masked contact details. */
import { formatDuration } from "../duration";
import { zonedToUtc, zoneFormatter } from "../time-zone";

/** How the console writes an instant: `Nov 29, 2026, 06:05:03 EST`. */
const DISPLAY: Intl.DateTimeFormatOptions = {
  year: "numeric",
  month: "short",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
  timeZoneName: "short",
};

/** An instant as the clinic reads it, e.g. `Nov 29, 2026, 06:05:03 EST`. */
export function formatInstant(iso: string, timeZone: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : zoneFormatter("display", timeZone, DISPLAY).format(date);
}

/** How long before `now` an instant was, in the two largest units: `45 s`, `3 min`, `2 h 5 min`, `4 d 1 h`. */
export function formatAge(iso: string, now: Date): string {
  return formatDuration(now.getTime() - new Date(iso).getTime());
}

const MASK = "•••••";

/** A phone number with only its first digit after `+` and its last four shown: `+1•••••0123`. */
export function maskPhone(phone: string): string {
  if (phone.length < 7) return MASK;
  return `${phone.slice(0, 2)}${MASK}${phone.slice(-4)}`;
}

/** An email address with only the first letter of its local part shown: `j•••@example.com`. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at < 1) return MASK;
  return `${email[0]}•••${email.slice(at)}`;
}

const wallClockPattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;

/**
 * The UTC instant of a clinic wall-clock time as an `<input type="datetime-local">` sends it
 * (`2026-11-29T08:30`), or null when it is not one. Resolved twice so a DST change between the
 * guess and the answer is accounted for.
 */
export function wallClockToUtc(wallClock: string, timeZone: string): string | null {
  const match = wallClockPattern.exec(wallClock);
  if (!match) return null;
  const [, year, month, day, hour, minute] = match.map(Number);
  const instant = zonedToUtc(year ?? 0, month ?? 1, day ?? 1, (hour ?? 0) * 60 + (minute ?? 0), timeZone);
  return Number.isNaN(instant) ? null : new Date(instant).toISOString();
}
