import type { Query } from "./batch";
import type { WriteGuard } from "./entities";

/**
 * Typed SQL for clinic profiles (migration 0045) and per-sender SMS opt-outs. A profile field left
 * NULL means "the [vars] default"; src/tenancy/clinic-settings.ts resolves it.
 */

/** The settable fields of a clinic profile, snake_case as the admin API names them. */
export const CLINIC_PROFILE_FIELDS = [
  "name",
  "phone",
  "time_zone",
  "sms_send_window",
  "sms_daily_cap",
  "email_daily_cap",
  "sms_weekly_cap",
  "sms_from",
  "sms_messaging_service_sid",
  "email_from",
  "email_reply_to",
  "default_locale",
  "alert_emails",
] as const;
export type ClinicProfileField = (typeof CLINIC_PROFILE_FIELDS)[number];

/** A stored profile; null fields fall back to the defaults. */
export interface ClinicProfile {
  clinic_id: string;
  name: string | null;
  phone: string | null;
  time_zone: string | null;
  sms_send_window: string | null;
  sms_daily_cap: number | null;
  email_daily_cap: number | null;
  sms_weekly_cap: number | null;
  sms_from: string | null;
  sms_messaging_service_sid: string | null;
  email_from: string | null;
  email_reply_to: string | null;
  default_locale: string | null;
  alert_emails: string[] | null;
  updated_at: string;
}

export type ClinicProfileRow = Omit<ClinicProfile, "alert_emails"> & { alert_emails: string | null };

/** A profile row as D1 returns it (alert emails as JSON text). */
export function toClinicProfile(typed: ClinicProfileRow): ClinicProfile {
  let alertEmails: string[] | null = null;
  if (typed.alert_emails) {
    const parsed: unknown = JSON.parse(typed.alert_emails);
    alertEmails = Array.isArray(parsed) ? parsed.map(String) : null;
  }
  return { ...typed, alert_emails: alertEmails };
}

/** The profiles of some clinics, in one statement (a clinic without one has no row). */
export function selectClinicProfiles(db: D1Database, clinicIds: readonly string[]): Query<ClinicProfileRow> {
  return db
    .prepare(`SELECT * FROM clinic_profiles WHERE clinic_id IN (SELECT value FROM json_each(?1))`)
    .bind(JSON.stringify(clinicIds));
}

/** The profiles of the clinics of some events, in one statement. */
export function selectProfilesOfEvents(db: D1Database, eventIds: readonly string[]): Query<ClinicProfileRow> {
  return db
    .prepare(
      `SELECT * FROM clinic_profiles
WHERE clinic_id IN (SELECT clinic_id FROM events WHERE event_id IN (SELECT value FROM json_each(?1)))`,
    )
    .bind(JSON.stringify(eventIds));
}

/** The profiles of some clinics, by clinic id. */
export async function getClinicProfiles(
  db: D1Database,
  clinicIds: readonly string[],
): Promise<Map<string, ClinicProfile>> {
  const { results } = await selectClinicProfiles(db, clinicIds).all<ClinicProfileRow>();
  return new Map(results.map((row) => [String(row.clinic_id), toClinicProfile(row)]));
}

/** Replaces a clinic's profile: every field given (null = the default). */
export function upsertClinicProfile(
  db: D1Database,
  clinicId: string,
  fields: Omit<ClinicProfile, "clinic_id" | "updated_at">,
  now: string,
): D1PreparedStatement {
  const columns = CLINIC_PROFILE_FIELDS;
  const values = columns.map((column) =>
    column === "alert_emails" ? (fields.alert_emails ? JSON.stringify(fields.alert_emails) : null) : fields[column],
  );
  const placeholders = columns.map((_, index) => `?${index + 3}`);
  return db
    .prepare(
      `INSERT INTO clinic_profiles (clinic_id, updated_at, ${columns.join(", ")}) VALUES (?1, ?2, ${placeholders.join(", ")})
ON CONFLICT (clinic_id) DO UPDATE SET updated_at = excluded.updated_at, ${columns.map((column) => `${column} = excluded.${column}`).join(", ")}`,
    )
    .bind(clinicId, now, ...values);
}

/** The clinic of each of some events (the sender's notifications carry their event id, not the clinic). */
export function selectEventClinics(
  db: D1Database,
  eventIds: readonly string[],
): Query<{ event_id: string; clinic_id: string }> {
  return db
    .prepare(`SELECT event_id, clinic_id FROM events WHERE event_id IN (SELECT value FROM json_each(?1))`)
    .bind(JSON.stringify(eventIds));
}

/** Per-sender opt-outs of some patients' phones, in one statement (rows of `phone`, `sender`). */
export function selectSenderOptOuts(
  db: D1Database,
  patientIds: readonly string[],
): Query<{ phone: string; sender: string }> {
  return db
    .prepare(
      `SELECT phone, sender FROM sms_sender_opt_outs
WHERE phone IN (SELECT phone FROM patients WHERE patient_id IN (SELECT value FROM json_each(?1)))`,
    )
    .bind(JSON.stringify(patientIds));
}

/** Opts a phone out of one sender's texts (through `recordSmsOptOut` in src/db/patients.ts). */
export function optOutOfSender(
  db: D1Database,
  phone: string,
  sender: string,
  source: "keyword" | "revoked" | "twilio_21610",
  now: string,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO sms_sender_opt_outs (phone, sender, source, opted_out_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (phone, sender) DO NOTHING`,
    )
    .bind(phone, sender, source, now);
}

/** Opts a phone back in to one sender's texts (START sent to it). */
export function optInToSender(db: D1Database, phone: string, sender: string): D1PreparedStatement {
  return db.prepare(`DELETE FROM sms_sender_opt_outs WHERE phone = ?1 AND sender = ?2`).bind(phone, sender);
}

/**
 * The clinic each of some entities was first seen under, in one statement (rows of `kind`,
 * `entity_id`, `clinic_id`): an entity never changes clinic (issue 22.2).
 */
export function selectEntityClinics(
  db: D1Database,
  ids: { order: readonly string[]; medication_request: readonly string[]; refill: readonly string[] },
): D1PreparedStatement {
  return db
    .prepare(
      `SELECT 'order' AS kind, order_id AS entity_id, clinic_id FROM orders WHERE order_id IN (SELECT value FROM json_each(?1))
UNION ALL
SELECT 'medication_request', medication_request_id, clinic_id FROM medication_requests
WHERE medication_request_id IN (SELECT value FROM json_each(?2))
UNION ALL
SELECT 'refill', refill_id, clinic_id FROM refills WHERE refill_id IN (SELECT value FROM json_each(?3))`,
    )
    .bind(JSON.stringify(ids.order), JSON.stringify(ids.medication_request), JSON.stringify(ids.refill));
}

/**
 * Opens the `clinic_mismatch` alert of an event (one open alert per event; a repeat changes nothing),
 * only in the batch of the attempt whose record takes the event (its token, `guard.leaseOwner`).
 */
export function openClinicMismatchAlert(
  db: D1Database,
  eventId: string,
  clinicId: string,
  guard: WriteGuard,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO alerts (alert_id, rule, target_type, target_id, clinic_id, state, since, opened_at)
SELECT 'alt_' || lower(hex(randomblob(12))), 'clinic_mismatch', 'event', ?1, ?2, 'open', ?3, ?3
WHERE EXISTS (SELECT 1 FROM events WHERE event_id = ?1 AND lease_owner = ?4)
ON CONFLICT DO NOTHING`,
    )
    .bind(eventId, clinicId, guard.now, guard.leaseOwner);
}
