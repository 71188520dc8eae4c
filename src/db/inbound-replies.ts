import type { DirectoryClinic } from "./patients";
import { andInScope, type StaffScope } from "./scope";

/**
 * Typed SQL for patients' inbound texts that are meant for a person (migration 0106): the text is
 * kept for an operator to read (audited), and a `patient_replied` alert, whose target is the reply's
 * id, tells staff without carrying the text or the phone.
 */

export interface InboundReply {
  reply_id: string;
  clinic_id: string | null;
  phone: string;
  body: string;
  received_at: string;
}

/** Records a reply and opens its `patient_replied` alert, together. */
export function recordInboundReply(db: D1Database, reply: InboundReply): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `INSERT INTO inbound_replies (reply_id, clinic_id, phone, body, received_at) VALUES (?1, ?2, ?3, ?4, ?5)`,
      )
      .bind(reply.reply_id, reply.clinic_id, reply.phone, reply.body, reply.received_at),
    db
      .prepare(
        `INSERT INTO alerts (alert_id, rule, target_type, target_id, clinic_id, state, since, opened_at)
VALUES ('alt_' || lower(hex(randomblob(12))), 'patient_replied', 'inbound_reply', ?1, ?2, 'open', ?3, ?3)
ON CONFLICT DO NOTHING`,
      )
      .bind(reply.reply_id, reply.clinic_id, reply.received_at),
  ];
}

/** One reply within the scope's clinics (a reply of no single clinic only for an all-clinics scope), or null. */
export function getInboundReply(db: D1Database, scope: StaffScope, replyId: string): Promise<InboundReply | null> {
  const inScope = andInScope(scope, "clinic_id", "?2");
  const sql = `SELECT * FROM inbound_replies WHERE reply_id = ?1${inScope.sql}`;
  return db
    .prepare(sql)
    .bind(replyId, ...inScope.values)
    .first<InboundReply>();
}

/** A directory entry whose phone is the one a reply came from. */
export interface RepliedPatient {
  /** The entry's clinic ('' for a row from before patients belonged to clinics). */
  clinic_id: string;
  patient_id: string;
}

/**
 * The patients a reply may be from: the entries of the reply's clinic's directory (`directory`, its
 * unassigned rows too while it is the only clinic) holding the phone it came from; for a reply that
 * reached no single clinic, those of any clinic (only an identity of every clinic reads such a
 * reply). At most `limit`, by clinic and id.
 */
export async function patientsOfReply(
  db: D1Database,
  reply: Pick<InboundReply, "clinic_id" | "phone">,
  directory: DirectoryClinic | null,
  limit: number,
): Promise<RepliedPatient[]> {
  if (reply.clinic_id !== null && directory === null) return [];
  const clinics = directory ? [directory.clinicId, ...(directory.withUnassigned ? [""] : [])] : null;
  const inClinics = clinics ? ` AND clinic_id IN (SELECT value FROM json_each(?3))` : "";
  const { results } = await db
    .prepare(
      `SELECT clinic_id, patient_id FROM patients WHERE phone = ?1${inClinics} ORDER BY clinic_id, patient_id LIMIT ?2`,
    )
    .bind(reply.phone, limit, ...(clinics ? [JSON.stringify(clinics)] : []))
    .all<RepliedPatient>();
  return results;
}

/** Deletes up to `limit` replies received before `cutoff` (their alerts keep the id); the number deleted. */
export async function purgeInboundReplies(db: D1Database, cutoff: string, limit: number): Promise<number> {
  const result = await db
    .prepare(
      `DELETE FROM inbound_replies WHERE reply_id IN (SELECT reply_id FROM inbound_replies WHERE received_at < ?1 LIMIT ?2)`,
    )
    .bind(cutoff, limit)
    .run();
  return result.meta.changes ?? 0;
}
