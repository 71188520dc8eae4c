import { optOutContactOfNotification, recordCarrierFiltering } from "../db/consent";

/**
 * Twilio errors that say the number itself cannot take texts, whatever we send: 21211 invalid number,
 * 21614 not a mobile number, 30005 unknown or inactive destination, 30006 landline or unreachable
 * carrier. The patient's phone is marked `unreachable` (no further SMS until the phone changes).
 */
export const TWILIO_UNREACHABLE_CODES: ReadonlySet<number> = new Set([21211, 21614, 30005, 30006]);

/** Twilio's error for a message the carrier filtered (usually an unregistered A2P 10DLC campaign). */
export const TWILIO_CARRIER_FILTERED = 30007;

/**
 * What a Twilio error code on a notification's SMS changes, as statements for the same write as the
 * outcome: an unreachable number marks the phone it went to (in the clinic of the notification's
 * event), a carrier-filtered message counts for the clinic (the watch alerts staff). Other codes
 * change nothing here.
 */
export function phoneOutcomeStatements(
  db: D1Database,
  notificationId: string,
  phone: string | null,
  code: number,
  now: string,
): D1PreparedStatement[] {
  if (TWILIO_UNREACHABLE_CODES.has(code) && phone)
    return [
      optOutContactOfNotification(
        db,
        { notificationId },
        { channel: "sms", contact: phone, reason: "unreachable", detail: `twilio ${code}` },
        now,
      ),
    ];
  if (code === TWILIO_CARRIER_FILTERED) return [recordCarrierFiltering(db, notificationId, now)];
  return [];
}
