import type { Locale } from "../channels";
import type { Query } from "./batch";
import { optOutOfSender } from "./clinics";

/** Typed SQL for the patient directory and SMS opt-outs. */

export interface Patient {
  patient_id: string;
  phone: string | null;
  email: string | null;
  timezone: string | null;
  sms_opt_in: boolean;
  email_opt_in: boolean;
  /** The language of the patient's messages; null: the clinic's `default_locale`. */
  locale: Locale | null;
}

interface PatientRow extends Omit<Patient, "sms_opt_in" | "email_opt_in" | "locale"> {
  clinic_id: string;
  locale: string | null;
  sms_opt_in: number;
  email_opt_in: number;
  created_at: string;
  updated_at: string;
}

export function toPatient(row: PatientRow): Patient & { created_at: string; updated_at: string } {
  const { clinic_id: _clinic, ...patient } = row;
  return {
    ...patient,
    sms_opt_in: row.sms_opt_in === 1,
    email_opt_in: row.email_opt_in === 1,
    locale: row.locale === "en" || row.locale === "es" ? row.locale : null,
  };
}

/**
 * Whose directory entries a caller reads and writes: one clinic's, plus the rows not yet assigned to a
 * clinic (clinic_id '', from before patients belonged to clinics) while that clinic is the only one
 * configured (migration 0047).
 */
export interface DirectoryClinic {
  clinicId: string;
  /** True while `clinicId` is the only configured clinic: unassigned rows are its own. */
  withUnassigned: boolean;
}

/** The clinic id '' rows are read as, in SQL: the clinic itself, or null (none) with several clinics. */
const unassignedOf = (clinic: DirectoryClinic) => (clinic.withUnassigned ? "" : null);

const UPSERT_MANY_SQL = `INSERT INTO patients (clinic_id, patient_id, phone, email, timezone, sms_opt_in, email_opt_in, locale, created_at, updated_at)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'),
  json_extract(value, '$[4]'), json_extract(value, '$[5]'), json_extract(value, '$[6]'), json_extract(value, '$[8]'), ?2, ?2
FROM json_each(?1) WHERE true
ON CONFLICT (clinic_id, patient_id) DO UPDATE SET phone = excluded.phone, email = excluded.email, timezone = excluded.timezone,
  sms_opt_in = excluded.sms_opt_in, email_opt_in = excluded.email_opt_in, locale = excluded.locale, updated_at = excluded.updated_at`;

/** The unassigned rows the sole clinic's new rows replace (a sole clinic's directory takes them over). */
const DELETE_UNASSIGNED_MANY_SQL = `DELETE FROM patients WHERE clinic_id = '' AND patient_id IN
  (SELECT json_extract(value, '$[1]') FROM json_each(?1) WHERE json_extract(value, '$[7]') = 1)`;

/**
 * Creates or replaces a clinic's patient's contact details and consent. With one clinic, its
 * unassigned row for the same id is taken over (deleted: the new row replaces it), so no stale copy
 * remains. The same statements as an import of one row.
 */
export function upsertPatient(
  db: D1Database,
  clinic: DirectoryClinic,
  patient: Patient,
  now: string,
): D1PreparedStatement[] {
  return upsertPatients(db, [{ clinic, patient }], now);
}

/** Patients per statement of {@link upsertPatients}: a few hundred bytes each, far below D1's value size. */
const UPSERT_CHUNK = 250;

/**
 * Creates or replaces many patients (each as {@link upsertPatient} describes) in a few statements
 * instead of one per patient (an import of 1,000 would otherwise spend 1,000 of D1's 1,000 queries per
 * invocation). In order, so of two rows with one id the later wins, as with one statement each.
 */
export function upsertPatients(
  db: D1Database,
  entries: readonly { clinic: DirectoryClinic; patient: Patient }[],
  now: string,
): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  for (let start = 0; start < entries.length; start += UPSERT_CHUNK) {
    const chunk = entries.slice(start, start + UPSERT_CHUNK);
    const rows = JSON.stringify(
      chunk.map(({ clinic, patient }) => [
        clinic.clinicId,
        patient.patient_id,
        patient.phone,
        patient.email,
        patient.timezone,
        patient.sms_opt_in ? 1 : 0,
        patient.email_opt_in ? 1 : 0,
        clinic.withUnassigned ? 1 : 0,
        patient.locale,
      ]),
    );
    if (chunk.some(({ clinic }) => clinic.withUnassigned))
      statements.push(db.prepare(DELETE_UNASSIGNED_MANY_SQL).bind(rows));
    statements.push(db.prepare(UPSERT_MANY_SQL).bind(rows, now));
  }
  return statements;
}

/** A clinic's patient (its own row first, then an unassigned one it may read), or null. */
export async function getPatient(db: D1Database, clinic: DirectoryClinic, patientId: string) {
  const row = await db
    .prepare(`SELECT * FROM patients WHERE clinic_id IN (?1, ?2) AND patient_id = ?3 ORDER BY clinic_id DESC LIMIT 1`)
    .bind(clinic.clinicId, unassignedOf(clinic), patientId)
    .first<PatientRow>();
  return row ? { ...toPatient(row), clinic_id: clinic.clinicId } : null;
}

/** Deletes a clinic's patient (and an unassigned row it may read); true when one existed. */
export async function deletePatient(db: D1Database, clinic: DirectoryClinic, patientId: string): Promise<boolean> {
  const result = await db
    .prepare(`DELETE FROM patients WHERE clinic_id IN (?1, ?2) AND patient_id = ?3`)
    .bind(clinic.clinicId, unassignedOf(clinic), patientId)
    .run();
  return (result.meta.changes ?? 0) > 0;
}

/**
 * The directory entry of each notification's patient in the clinic of the notification's event, in
 * one statement (rows carry `for_notification`; an unassigned row only for `soleClinic`, the only
 * configured clinic, and after that clinic's own row). Another clinic's entry for the same patient id
 * is never returned.
 */
export function selectNotificationPatients(
  db: D1Database,
  notificationIds: readonly string[],
  soleClinic: string | null,
): Query<PatientRow & { for_notification: string }> {
  return db
    .prepare(
      `SELECT n.notification_id AS for_notification, p.* FROM notifications n
JOIN events e ON e.event_id = n.event_id
JOIN patients p ON p.patient_id = n.patient_id
  AND p.clinic_id IN (lower(e.clinic_id), CASE WHEN lower(e.clinic_id) = ?2 THEN '' END)
WHERE n.notification_id IN (SELECT value FROM json_each(?1))
ORDER BY p.clinic_id`,
    )
    .bind(JSON.stringify(notificationIds), soleClinic);
}

/** Patients by id in one clinic's directory, in one statement (the console's patient page). */
export function selectPatients(
  db: D1Database,
  clinic: DirectoryClinic,
  patientIds: readonly string[],
): Query<PatientRow> {
  return db
    .prepare(
      `SELECT * FROM patients WHERE clinic_id IN (?2, ?3) AND patient_id IN (SELECT value FROM json_each(?1)) ORDER BY clinic_id DESC`,
    )
    .bind(JSON.stringify(patientIds), clinic.clinicId, unassignedOf(clinic));
}

/** Unassigned directory rows (clinic_id ''), for the health check with several clinics. */
export async function countUnassignedPatients(db: D1Database): Promise<number> {
  const row = await db
    .prepare(`SELECT COUNT(*) AS count FROM patients WHERE clinic_id = ''`)
    .first<{ count: number }>();
  return row?.count ?? 0;
}

/** The opted-out numbers among those patients' phones, in one statement. */
export function selectOptedOutPhones(db: D1Database, patientIds: readonly string[]): Query<{ phone: string }> {
  return db
    .prepare(
      `SELECT phone FROM sms_opt_outs WHERE phone IN (SELECT phone FROM patients WHERE patient_id IN (SELECT value FROM json_each(?1)))`,
    )
    .bind(JSON.stringify(patientIds));
}

/**
 * Why a number was opted out of SMS: a STOP-family keyword, a plain-words revocation ("please stop
 * texting me"), or Twilio's error 21610. Stored with the opt-out, for the patient's page and API.
 */
export type SmsOptOutSource = "keyword" | "revoked" | "twilio_21610";

/**
 * The one SMS opt-out write, for every path (STOP, a plain-words revocation, Twilio's 21610): out of
 * one sender's texts when the sender is known (consent follows the sender), else out of every sender's.
 */
export function recordSmsOptOut(
  db: D1Database,
  phone: string,
  senderKey: string | null,
  source: SmsOptOutSource,
  now: string,
): D1PreparedStatement {
  return senderKey ? optOutOfSender(db, phone, senderKey, source, now) : optOutPhone(db, phone, source, now);
}

/** Opts a number out of every sender's SMS at once (through {@link recordSmsOptOut}). */
function optOutPhone(db: D1Database, phone: string, source: SmsOptOutSource, now: string): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO sms_opt_outs (phone, source, opted_out_at) VALUES (?1, ?2, ?3) ON CONFLICT (phone) DO NOTHING`,
    )
    .bind(phone, source, now);
}

/** Opts a number back in (START, UNSTOP, YES). */
export function optInPhone(db: D1Database, phone: string): D1PreparedStatement {
  return db.prepare(`DELETE FROM sms_opt_outs WHERE phone = ?1`).bind(phone);
}

/**
 * The language a phone's patient reads, from the directory of the clinics an inbound text reached
 * (any clinic's when none is known); null when no entry with that phone sets one.
 */
export async function localeOfPhone(
  db: D1Database,
  phone: string,
  clinicIds: readonly string[] | null,
): Promise<Locale | null> {
  const row = await db
    .prepare(
      `SELECT locale FROM patients WHERE phone = ?1 AND locale IS NOT NULL
  AND (?2 IS NULL OR clinic_id IN (SELECT value FROM json_each(?2)) OR clinic_id = '')
ORDER BY updated_at DESC LIMIT 1`,
    )
    .bind(phone, clinicIds ? JSON.stringify(clinicIds) : null)
    .first<{ locale: string }>();
  return row?.locale === "en" || row?.locale === "es" ? row.locale : null;
}
