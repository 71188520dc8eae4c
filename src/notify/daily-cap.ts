import type { Channel } from "../channels";
import type { RecentSend } from "../db/notification-sends";
import { instantClockReaches, localDate } from "../time-zone";

/**
 * The per-patient frequency caps of one clinic: at most `caps[channel]` messages per patient of the
 * clinic and channel per local
 * day (the patient's time zone), and, when set, at most `weeklySms` texts in any 7 local days, so a
 * burst of events, or a compromised NovaMed key, cannot text a patient over and over. Counts what was
 * sent plus what this run has already let through. Two senders running at the same moment may each
 * let one more through: the cap bounds a burst, it is not a ledger. A message over a cap is not
 * dropped: it waits for the patient's next allowed day ({@link CapVerdict}). Another clinic's sends to
 * the same patient id never count (patient ids are per clinic, and each clinic has its own caps).
 */
export interface DailyCap {
  /** Takes (and counts) one message when it fits the patient's caps; otherwise says until when it waits. */
  take(patientId: string, channel: Channel, timeZone: string): CapVerdict;
}

export type CapVerdict =
  | { allowed: true }
  | { allowed: false; reason: "daily_cap" | "weekly_cap"; nextAllowedDay: Date };

/** The days a weekly cap counts: today and the 6 before it. */
const WEEK_DAYS = 7;
const DAY_MS = 86_400_000;

/**
 * How far back the sender reads sends for these caps: 7 local days (a day is 25 h across a DST change)
 * plus the widest offset drift. Read whether or not a weekly cap is set: a clinic's profile may set one.
 */
export const RECENT_SENDS_MS = (WEEK_DAYS * 24 + 3) * 3_600_000;

const dayNumber = (date: string) => Date.parse(`${date}T00:00:00Z`) / DAY_MS;

export function dailyCap(
  clinicId: string,
  caps: Record<Channel, number>,
  recentSends: readonly RecentSend[],
  now: Date,
  weeklySms = 0,
): DailyCap {
  // The local day numbers of each patient's counted messages on a channel.
  const days = new Map<string, number[]>();
  return {
    take(patientId, channel, timeZone) {
      const daily = caps[channel];
      const weekly = channel === "sms" ? weeklySms : 0;
      if (daily === 0 && weekly === 0) return { allowed: true };
      const today = dayNumber(localDate(now.getTime(), timeZone));
      const key = `${patientId}\n${channel}`;
      let counted = days.get(key);
      if (!counted) {
        counted = recentSends
          .filter((send) => send.clinic_id === clinicId && send.patient_id === patientId && send.channel === channel)
          .map((send) => dayNumber(localDate(Date.parse(send.sent_at), timeZone)));
        days.set(key, counted);
      }
      const onDay = (day: number) => counted.filter((sent) => sent === day).length;
      const inWeekOf = (day: number) => counted.filter((sent) => sent > day - WEEK_DAYS && sent <= day).length;
      const fits = (day: number) => (daily === 0 || onDay(day) < daily) && (weekly === 0 || inWeekOf(day) < weekly);
      if (fits(today)) {
        counted.push(today);
        return { allowed: true };
      }
      const reason = daily > 0 && onDay(today) >= daily ? "daily_cap" : "weekly_cap";
      // Within a week every counted message has left the window, so some day fits.
      let day = today + 1;
      while (!fits(day) && day < today + WEEK_DAYS) day += 1;
      return { allowed: false, reason, nextAllowedDay: startOfLocalDay(day, timeZone, now) };
    },
  };
}

/** The instant the patient's clock reaches midnight of a day (or the end of a DST gap over it). */
function startOfLocalDay(day: number, timeZone: string, now: Date): Date {
  const date = new Date(day * DAY_MS);
  const start = instantClockReaches(
    date.getUTCFullYear(),
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    0,
    timeZone,
    now.getTime(),
  );
  return new Date(start ?? now.getTime() + DAY_MS);
}
