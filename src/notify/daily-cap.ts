import type { Channel } from "../channels";
import type { RecentSend } from "../db/notification-sends";
import { localDate } from "../time-zone";

/**
 * The per-patient frequency cap of one clinic: at most `caps[channel]` messages per patient of the
 * clinic and channel per local day (the patient's time zone), so a burst of events, or a compromised
 * NovaMed key, cannot text a patient over and over. Counts what the clinic sent today plus what this
 * run has already let through; another clinic's sends to the same patient id never count (patient ids
 * are per clinic, and each clinic has its own cap).
 * Two senders running at the same moment may each let one more through: the cap bounds a burst, it
 * is not a ledger.
 */
export interface DailyCap {
  /** True (and counted) when one more message fits the patient's day; false when it is over the cap. */
  take(patientId: string, channel: Channel, timeZone: string): boolean;
}

export function dailyCap(
  clinicId: string,
  caps: Record<Channel, number>,
  recentSends: readonly RecentSend[],
  now: Date,
): DailyCap {
  const taken = new Map<string, number>();
  return {
    take(patientId, channel, timeZone) {
      const cap = caps[channel];
      if (cap === 0) return true;
      const today = localDate(now.getTime(), timeZone);
      const key = `${patientId}\n${channel}`;
      if (!taken.has(key))
        taken.set(
          key,
          recentSends.filter(
            (send) =>
              send.clinic_id === clinicId &&
              send.patient_id === patientId &&
              send.channel === channel &&
              localDate(Date.parse(send.sent_at), timeZone) === today,
          ).length,
        );
      const count = taken.get(key) ?? 0;
      if (count >= cap) return false;
      taken.set(key, count + 1);
      return true;
    },
  };
}
