/** Typed SQL for the patient directory and SMS opt-outs. */

export interface Patient {
  patient_id: string;
  phone: string | null;
  email: string | null;
  timezone: string | null;
  sms_opt_in: boolean;
  email_opt_in: boolean;
}

interface PatientRow extends Omit<Patient, "sms_opt_in" | "email_opt_in"> {
  sms_opt_in: number;
  email_opt_in: number;
  created_at: string;
  updated_at: string;
}

export function toPatient(row: PatientRow): Patient & { created_at: string; updated_at: string } {
  return { ...row, sms_opt_in: row.sms_opt_in === 1, email_opt_in: row.email_opt_in === 1 };
}

const UPSERT_SQL = `INSERT INTO patients (patient_id, phone, email, timezone, sms_opt_in, email_opt_in, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
ON CONFLICT (patient_id) DO UPDATE SET phone = excluded.phone, email = excluded.email, timezone = excluded.timezone,
  sms_opt_in = excluded.sms_opt_in, email_opt_in = excluded.email_opt_in, updated_at = excluded.updated_at`;

/** Creates or replaces a patient's contact details and consent. */
export function upsertPatient(db: D1Database, patient: Patient, now: string): D1PreparedStatement {
  return db
    .prepare(UPSERT_SQL)
    .bind(
      patient.patient_id,
      patient.phone,
      patient.email,
      patient.timezone,
      patient.sms_opt_in ? 1 : 0,
      patient.email_opt_in ? 1 : 0,
      now,
    );
}

const UPSERT_MANY_SQL = `INSERT INTO patients (patient_id, phone, email, timezone, sms_opt_in, email_opt_in, created_at, updated_at)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'),
  json_extract(value, '$[4]'), json_extract(value, '$[5]'), ?2, ?2
FROM json_each(?1) WHERE true
ON CONFLICT (patient_id) DO UPDATE SET phone = excluded.phone, email = excluded.email, timezone = excluded.timezone,
  sms_opt_in = excluded.sms_opt_in, email_opt_in = excluded.email_opt_in, updated_at = excluded.updated_at`;

/** Patients per statement of {@link upsertPatients}: a few hundred bytes each, far below D1's value size. */
const UPSERT_CHUNK = 250;

/**
 * {@link upsertPatient} for many, a few statements instead of one per patient (an import of 1,000
 * would otherwise spend 1,000 of D1's 1,000 queries per invocation). In order, so of two rows with one
 * id the later wins, as with one statement each.
 */
export function upsertPatients(db: D1Database, patients: readonly Patient[], now: string): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  for (let start = 0; start < patients.length; start += UPSERT_CHUNK) {
    const rows = patients
      .slice(start, start + UPSERT_CHUNK)
      .map((patient) => [
        patient.patient_id,
        patient.phone,
        patient.email,
        patient.timezone,
        patient.sms_opt_in ? 1 : 0,
        patient.email_opt_in ? 1 : 0,
      ]);
    statements.push(db.prepare(UPSERT_MANY_SQL).bind(JSON.stringify(rows), now));
  }
  return statements;
}

export async function getPatient(db: D1Database, patientId: string) {
  const row = await db.prepare(`SELECT * FROM patients WHERE patient_id = ?1`).bind(patientId).first<PatientRow>();
  return row ? toPatient(row) : null;
}

/** Deletes a patient; true when one existed. */
export async function deletePatient(db: D1Database, patientId: string): Promise<boolean> {
  const result = await db.prepare(`DELETE FROM patients WHERE patient_id = ?1`).bind(patientId).run();
  return (result.meta.changes ?? 0) > 0;
}

/** Patients by id, in one statement. */
export function selectPatients(db: D1Database, patientIds: readonly string[]): D1PreparedStatement {
  return db
    .prepare(`SELECT * FROM patients WHERE patient_id IN (SELECT value FROM json_each(?1))`)
    .bind(JSON.stringify(patientIds));
}

/** The opted-out numbers among those patients' phones, in one statement. */
export function selectOptedOutPhones(db: D1Database, patientIds: readonly string[]): D1PreparedStatement {
  return db
    .prepare(
      `SELECT phone FROM sms_opt_outs WHERE phone IN (SELECT phone FROM patients WHERE patient_id IN (SELECT value FROM json_each(?1)))`,
    )
    .bind(JSON.stringify(patientIds));
}

/** Opts a number out of SMS at once (a STOP keyword, or Twilio error 21610). */
export function optOutPhone(
  db: D1Database,
  phone: string,
  source: "keyword" | "twilio_21610",
  now: string,
): D1PreparedStatement {
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

export function toPatientRow(row: Record<string, unknown>): PatientRow {
  return row as unknown as PatientRow;
}
