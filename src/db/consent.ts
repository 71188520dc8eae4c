import type { Channel } from "../channels";
import type { Query } from "./batch";
import type { DirectoryClinic } from "./patients";

/**
 * Typed SQL for what came back after sending (migration 0100): contacts not to use again until they
 * change (a bounced or complaining address, an unsubscribe, an unreachable phone) and carrier
 * filtering per clinic.
 */

/** Why a contact is not used: the patient's own act, or the provider's verdict on the contact. */
export type ContactOptOutReason = "bounced" | "complained" | "unsubscribed" | "unreachable";

/** A contact opt-out about to be recorded; `contact` is compared lower-case for email. */
export interface ContactOptOut {
  channel: Channel;
  contact: string;
  reason: ContactOptOutReason;
  /** The provider's code, e.g. `twilio 21614`; never a contact. */
  detail: string | null;
}

/** The contact as stored and compared: email addresses lower-case, phones as given (E.164). */
export const storedContact = (channel: Channel, contact: string) =>
  channel === "email" ? contact.trim().toLowerCase() : contact;

/**
 * The newest opt-out replaces an earlier one of the same channel; a repeat (same contact, same
 * reason) changes nothing, so its first time stands.
 */
const UPSERT_TAIL = `ON CONFLICT (clinic_id, patient_id, channel) DO UPDATE SET contact = excluded.contact,
  reason = excluded.reason, detail = excluded.detail, opted_out_at = excluded.opted_out_at
WHERE contact_opt_outs.contact IS NOT excluded.contact OR contact_opt_outs.reason IS NOT excluded.reason`;

/** Records an opt-out for the patient of a notification, in the clinic of its event (nothing for an unknown one). */
export function optOutContactOfNotification(
  db: D1Database,
  notification: { notificationId: string } | { providerMessageId: string; channel: Channel },
  optOut: ContactOptOut,
  now: string,
): D1PreparedStatement {
  const match =
    "notificationId" in notification
      ? { sql: "n.notification_id = ?6", value: notification.notificationId }
      : {
          sql: `n.provider_message_id = ?6 AND n.channel = '${notification.channel}'`,
          value: notification.providerMessageId,
        };
  return db
    .prepare(
      `INSERT INTO contact_opt_outs (clinic_id, patient_id, channel, contact, reason, detail, opted_out_at)
SELECT lower(e.clinic_id), n.patient_id, ?1, ?2, ?3, ?4, ?5 FROM notifications n JOIN events e ON e.event_id = n.event_id
WHERE ${match.sql} LIMIT 1
${UPSERT_TAIL}`,
    )
    .bind(
      optOut.channel,
      storedContact(optOut.channel, optOut.contact),
      optOut.reason,
      optOut.detail,
      now,
      match.value,
    );
}

/** Records an opt-out for a clinic's patient directly (an unsubscribe link names both). */
export function optOutContact(
  db: D1Database,
  clinicId: string,
  patientId: string,
  optOut: ContactOptOut,
  now: string,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO contact_opt_outs (clinic_id, patient_id, channel, contact, reason, detail, opted_out_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
${UPSERT_TAIL}`,
    )
    .bind(
      clinicId,
      patientId,
      optOut.channel,
      storedContact(optOut.channel, optOut.contact),
      optOut.reason,
      optOut.detail,
      now,
    );
}

/** A contact opt-out of a notification's patient in its event's clinic (the sender matches `contact`). */
export interface NotificationContactOptOut {
  for_notification: string;
  contact: string;
  reason: ContactOptOutReason;
}

/** The contact opt-outs of some notifications' patients on the notification's channel, in one statement. */
export function selectNotificationContactOptOuts(
  db: D1Database,
  notificationIds: readonly string[],
): Query<NotificationContactOptOut> {
  return db
    .prepare(
      `SELECT n.notification_id AS for_notification, co.contact, co.reason FROM notifications n
JOIN events e ON e.event_id = n.event_id
JOIN contact_opt_outs co ON co.clinic_id = lower(e.clinic_id) AND co.patient_id = n.patient_id AND co.channel = n.channel
WHERE n.notification_id IN (SELECT value FROM json_each(?1))`,
    )
    .bind(JSON.stringify(notificationIds));
}

/** What stops messages to one patient's current contacts, as the admin API and the console show it. */
export interface ConsentRow {
  /** The email opt-out that applies to the current address, or null. */
  email_opt_out_reason: ContactOptOutReason | null;
  /** The provider code that made the current phone unreachable, or null. */
  phone_unreachable: string | null;
  /** The source of a STOP opt-out of the current phone (every sender, or the clinic's), or null. */
  sms_stop_source: string | null;
}

/**
 * The opt-outs that apply to a clinic's patient's current phone and address, in one statement: those
 * of another contact (the patient has since changed it) do not count. `senderKey` is the clinic's SMS
 * sender (per-sender STOPs), null when the clinic's settings cannot be read.
 */
export function selectPatientConsent(
  db: D1Database,
  clinic: DirectoryClinic,
  patientId: string,
  senderKey: string | null,
): Query<ConsentRow> {
  return db
    .prepare(
      `SELECT
  (SELECT co.reason FROM contact_opt_outs co WHERE co.clinic_id = ?1 AND co.patient_id = p.patient_id
     AND co.channel = 'email' AND co.contact = lower(trim(p.email))) AS email_opt_out_reason,
  (SELECT co.detail FROM contact_opt_outs co WHERE co.clinic_id = ?1 AND co.patient_id = p.patient_id
     AND co.channel = 'sms' AND co.reason = 'unreachable' AND co.contact = p.phone) AS phone_unreachable,
  COALESCE((SELECT source FROM sms_opt_outs WHERE phone = p.phone),
    (SELECT source FROM sms_sender_opt_outs WHERE phone = p.phone AND sender = ?3)) AS sms_stop_source
FROM patients p WHERE p.clinic_id IN (?1, ?4) AND p.patient_id = ?2 ORDER BY p.clinic_id DESC LIMIT 1`,
    )
    .bind(clinic.clinicId, patientId, senderKey, clinic.withUnassigned ? "" : null);
}

/** Counts a Twilio 30007 (carrier filtering) for the clinic of a notification's event. */
export function recordCarrierFiltering(db: D1Database, notificationId: string, now: string): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO sms_carrier_filtering (clinic_id, first_at, last_at, count)
SELECT lower(e.clinic_id), ?2, ?2, 1 FROM notifications n JOIN events e ON e.event_id = n.event_id
WHERE n.notification_id = ?1
ON CONFLICT (clinic_id) DO UPDATE SET last_at = excluded.last_at, count = sms_carrier_filtering.count + 1`,
    )
    .bind(notificationId, now);
}
