import type { ErrorIssue } from "./issues";

/**
 * ISO 8601 date-times as NovaMed may send them: `T` separator, seconds, any fraction of a second and
 * an offset written `Z`, `+HH:MM`, `+HHMM` or `+HH`.
 */
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)$/i;

/** Earliest and latest instants whose UTC form has a four-digit year, so that strings sort as times. */
const EARLIEST = utc(0, 1, 1);
const LATEST = utc(9999, 12, 31) + 86_400_000 - 1;

/** Midnight UTC of a date; unlike `Date.UTC`, years 0–99 stay themselves. */
function utc(year: number, month: number, day: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getTime();
}

/**
 * A timestamp in UTC as `YYYY-MM-DDTHH:MM:SS.sssZ` (the form every stored time takes, so that times
 * compare as strings), or null when it is not a valid ISO 8601 date-time with an offset or its UTC
 * year falls outside 0000–9999. Fractions beyond milliseconds are truncated: two times that differ
 * only below a millisecond are equal, and the tie rule decides between their events.
 */
export function normaliseTimestamp(value: string): string | null {
  const match = ISO_DATE_TIME.exec(value);
  if (!match) return null;
  const [, year, month, day, hour, minute, second, fraction, zulu, sign, offsetHours, offsetMinutes] = match;
  const fields = [year, month, day, hour, minute, second].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [y, mo, d, h, mi, s] = fields;
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  const milliseconds = Number((fraction ?? "").padEnd(3, "0").slice(0, 3));
  const local = new Date(utc(y, mo, d));
  local.setUTCHours(h, mi, s, milliseconds);
  // A day past the month's end (2026-02-30) rolls over: refuse it rather than move the date.
  if (local.getUTCDate() !== d || local.getUTCMonth() !== mo - 1) return null;
  let offsetMinutesTotal = 0;
  if (!zulu) {
    const hours = Number(offsetHours);
    const minutes = Number(offsetMinutes ?? "0");
    if (hours > 23 || minutes > 59) return null;
    offsetMinutesTotal = (sign === "-" ? -1 : 1) * (hours * 60 + minutes);
  }
  const instant = local.getTime() - offsetMinutesTotal * 60_000;
  if (instant < EARLIEST || instant > LATEST) return null;
  return new Date(instant).toISOString();
}

/** An ISO 8601 date, optionally followed by a time of day and an offset (`2026-03-10T18:00:00-08:00`). */
const ISO_DATE_OR_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;
/** A US date, month first: `03/10/2026`, `3/10/2026`. */
const US_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;

/**
 * A calendar date (an estimated delivery) as `YYYY-MM-DD`, or null when it is not one. Accepts an ISO
 * date, an ISO date-time (its date as written: `2026-03-10T18:00:00-08:00` is March 10 where it was
 * written, whatever the date in UTC) and a US `MM/DD/YYYY`; a date that does not exist (02/30/2026)
 * and anything else (`March 10, 2026`, `TBD`) is null, never a guess.
 */
export function normaliseCalendarDate(value: string): string | null {
  const trimmed = value.trim();
  const iso = ISO_DATE_OR_DATE_TIME.exec(trimmed);
  const us = iso ? null : US_DATE.exec(trimmed);
  const parts = iso ? [iso[1], iso[2], iso[3]] : us ? [us[3], us[1], us[2]] : null;
  if (!parts) return null;
  if (iso) {
    const [hour, minute, second] = [iso[4], iso[5], iso[6]].map((part) => Number(part ?? "0")) as [
      number,
      number,
      number,
    ];
    if (hour > 23 || minute > 59 || second > 59) return null;
  }
  const [year, month, day] = parts.map(Number) as [number, number, number];
  if (month < 1 || month > 12 || day < 1) return null;
  const date = new Date(utc(year, month, day));
  // A day past the month's end (02/30/2026) rolls over: refuse it rather than move the date.
  if (date.getUTCDate() !== day || date.getUTCMonth() !== month - 1) return null;
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

/** How far after its receipt an event may be dated before it gets a warning (clock skew allowance). */
export const FUTURE_TIMESTAMP_TOLERANCE_MS = 5 * 60_000;

/**
 * The `timestamp_in_future` warning when an event is dated more than 5 minutes after the edge
 * received it (both UTC ISO); null otherwise. The event is still processed: its own date orders it.
 */
export function futureTimestampWarning(occurredAt: string, receivedAt: string): ErrorIssue | null {
  const ahead = Date.parse(occurredAt) - Date.parse(receivedAt);
  if (!(ahead > FUTURE_TIMESTAMP_TOLERANCE_MS)) return null;
  return {
    path: "timestamp",
    code: "timestamp_in_future",
    message: "is more than 5 minutes after the receiver got the event",
  };
}
