import { type Query, query } from "./batch";
import { withUnassignedPatients } from "./lists";
import { where } from "./parameters";
import { eventInScopeCondition, inScopeCondition, type StaffScope } from "./scope";

/**
 * Typed SQL of the search (issue 24.1): the patient search index of keyed digests (migration 0110),
 * orders by tracking number, and every kind of id by a case-insensitive prefix. Each reader takes the
 * identity's scope and filters in its SQL, so another clinic's rows are never found.
 */

/** One digest row of the patient search index, with the value it digests (a bound parameter, never stored). */
export interface PatientDigest {
  clinic_id: string;
  patient_id: string;
  field: "phone" | "email";
  digest: string;
  /** The phone or email as the directory stores it: the digest is written only while it still is. */
  value: string;
}

/** A patient whose digests are waiting to be written, with the contact details to digest. */
export interface PendingPatient {
  clinic_id: string;
  patient_id: string;
  phone: string | null;
  email: string | null;
}

/**
 * Writes these digests (replacing a patient's earlier digest of the same field) in one statement
 * whatever their number (the rows travel as one JSON value). A trigger of migration 0110 takes each
 * patient written off the pending list, and the patients' own writes already removed the digests of
 * a changed or cleared field. A digest is written only while the patient's field still holds the value
 * it was made from: the cron's drain reads a patient, an edit lands and indexes the new number, and the
 * drain's late write of the old number is then skipped instead of making the patient findable by it.
 */
export function writePatientDigests(db: D1Database, digests: readonly PatientDigest[]): D1PreparedStatement {
  const rows = JSON.stringify(digests.map((row) => [row.clinic_id, row.patient_id, row.field, row.digest, row.value]));
  return db
    .prepare(
      `INSERT OR REPLACE INTO patient_search_index (clinic_id, patient_id, field, digest)
SELECT d.clinic_id, d.patient_id, d.field, d.digest
FROM (SELECT json_extract(value, '$[0]') AS clinic_id, json_extract(value, '$[1]') AS patient_id,
        json_extract(value, '$[2]') AS field, json_extract(value, '$[3]') AS digest, json_extract(value, '$[4]') AS value
      FROM json_each(?1)) AS d
JOIN patients p ON p.clinic_id = d.clinic_id AND p.patient_id = d.patient_id
WHERE CASE d.field WHEN 'phone' THEN p.phone WHEN 'email' THEN p.email END = d.value`,
    )
    .bind(rows);
}

/**
 * Records `fingerprint` as the index key's and answers the one recorded before (null the first time).
 * When a different one was recorded, every digest is stale: the same batch puts every patient with a
 * contact detail back on the pending list (a scan of the directory, once per key rotation), so the
 * new key is never recorded without the re-queue (a failure leaves the old one, and the next run
 * re-queues). An unchanged key writes nothing.
 */
export async function swapIndexKeyFingerprint(db: D1Database, fingerprint: string): Promise<string | null> {
  const recorded = await db
    .prepare(`SELECT fingerprint FROM patient_search_key WHERE id = 1`)
    .first<{ fingerprint: string }>();
  const before = recorded?.fingerprint ?? null;
  if (before === fingerprint) return before;
  await db.batch([
    ...(before === null
      ? []
      : [
          db.prepare(
            `INSERT OR IGNORE INTO patient_search_pending (clinic_id, patient_id)
SELECT clinic_id, patient_id FROM patients WHERE phone IS NOT NULL OR email IS NOT NULL`,
          ),
        ]),
    db
      .prepare(
        `INSERT INTO patient_search_key (id, fingerprint) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint`,
      )
      .bind(fingerprint),
  ]);
  return before;
}

/** Up to `limit` patients waiting for their digests (a new key, a write that did not index, the backfill). */
export async function selectPendingPatients(db: D1Database, limit: number): Promise<PendingPatient[]> {
  const { results } = await db
    .prepare(
      `SELECT p.clinic_id, p.patient_id, p.phone, p.email FROM patient_search_pending q
JOIN patients p ON p.clinic_id = q.clinic_id AND p.patient_id = q.patient_id LIMIT ?1`,
    )
    .bind(limit)
    .all<PendingPatient>();
  return results;
}

/** What a search found: a kind, its id, the clinic, and what matched (never the matched value). */
export interface SearchHit {
  kind: "patient" | "order" | "medication_request" | "refill" | "event" | "notification";
  id: string;
  clinic_id: string | null;
  matched: "phone" | "email" | "tracking_number" | "id";
  /** A notification's event (the console links it there); null for every other kind. */
  event_id: string | null;
}

/** Patients whose phone or email digest is one of `digests`. */
export function selectPatientsByDigest(
  db: D1Database,
  scope: StaffScope,
  soleClinic: string | null,
  digests: readonly string[],
  limit: number,
): Query<SearchHit> {
  const scoped = withUnassignedPatients(scope, soleClinic);
  const filters = where()
    .and(true, (param) => `digest IN (SELECT value FROM json_each(${param(JSON.stringify(digests))}))`)
    .and(scoped.clinics !== "all", (param) => inScopeCondition(scoped, "clinic_id", param));
  return query<SearchHit>(
    db
      .prepare(
        `SELECT 'patient' AS kind, patient_id AS id, clinic_id, field AS matched, NULL AS event_id FROM patient_search_index
${filters.clause} ORDER BY patient_id LIMIT ${filters.param(limit)}`,
      )
      .bind(...filters.values),
  );
}

/**
 * Orders whose tracking number is `tracking` (upper-case, without spaces and dashes, as the
 * `orders_tracking_key` index stores it: migration 0155).
 */
export function selectOrdersByTracking(
  db: D1Database,
  scope: StaffScope,
  tracking: string,
  limit: number,
): Query<SearchHit> {
  const filters = where()
    .and(
      true,
      (param) =>
        `upper(replace(replace(tracking_number, ' ', ''), '-', '')) = ${param(tracking.replaceAll(/[\s-]/g, "").toUpperCase())} AND tracking_number IS NOT NULL`,
    )
    .and(scope.clinics !== "all", (param) => inScopeCondition(scope, "clinic_id", param));
  return query<SearchHit>(
    db
      .prepare(
        `SELECT 'order' AS kind, order_id AS id, clinic_id, 'tracking_number' AS matched, NULL AS event_id FROM orders
${filters.clause} ORDER BY order_id LIMIT ${filters.param(limit)}`,
      )
      .bind(...filters.values),
  );
}

/**
 * Each kind of id the prefix search covers: its table, id column and how it is scoped. Every kind
 * comes in any case: NovaMed names its ids (events, orders, …) in any case it likes, and a
 * notification's id holds its event's (`ntf_<event_id>.<channel>`, migration 0186).
 */
const ID_TABLES: Record<SearchHit["kind"], { table: string; column: string; scoped: "clinic" | "patient" | "event" }> =
  {
    event: { table: "events", column: "event_id", scoped: "clinic" },
    order: { table: "orders", column: "order_id", scoped: "clinic" },
    medication_request: { table: "medication_requests", column: "medication_request_id", scoped: "clinic" },
    refill: { table: "refills", column: "refill_id", scoped: "clinic" },
    patient: { table: "patients", column: "patient_id", scoped: "patient" },
    notification: { table: "notifications", column: "notification_id", scoped: "event" },
  };

/** The first string after every string that starts with `prefix` (its last character plus one). */
function prefixEnd(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  return `${prefix.slice(0, -1)}${String.fromCharCode(last + 1)}`;
}

/**
 * Rows of one kind whose id starts with `prefix`, case-insensitive, first `limit` in the order of their
 * lower-cased ids. The lower-cased prefix is a range; which index answers it depends on the id's case:
 * - an id in lower case (NovaMed's ids as its guide shows them, and so the notifications' ids) is in
 *   range on its own column, so the primary key (or `patients_patient`) answers without a `lower()` index;
 * - an id with an upper-case letter is in range on `lower(<id>)`, which the partial
 *   `<table>_id_mixed_case` index holds for those ids only (migrations 0182, 0186), so an id in lower
 *   case writes no entry there.
 * The two sets are disjoint (`<id> = lower(<id>)` or not), so uniting them finds each row once, as
 * the full `lower()` index did. `prefix` holds letters, digits and `_.:-` only, so lower-casing and
 * the range end are plain ASCII.
 */
export function selectIdsByPrefix(
  db: D1Database,
  scope: StaffScope,
  soleClinic: string | null,
  kind: SearchHit["kind"],
  prefix: string,
  limit: number,
): Query<SearchHit> {
  const { table, column, scoped } = ID_TABLES[kind];
  const lower = prefix.toLowerCase();
  const params = where();
  const [from, to] = [params.param(lower), params.param(prefixEnd(lower))];
  const within = scoped === "patient" ? withUnassignedPatients(scope, soleClinic) : scope;
  // Notifications belong to the clinic of their event (each hit's event read by its primary key).
  const scopeCondition = (param: (value: unknown) => string) =>
    scoped === "event"
      ? eventInScopeCondition(within, "t.event_id", param)
      : inScopeCondition(within, "clinic_id", param);
  const inScope = within.clinics === "all" ? "" : ` AND ${scopeCondition(params.param)}`;
  const [clinic, event] =
    scoped === "event"
      ? ["(SELECT clinic_id FROM events e WHERE e.event_id = t.event_id)", "t.event_id"]
      : ["clinic_id", "NULL"];
  const n = params.param(limit);
  const select = (key: string, cased: string) =>
    `SELECT '${kind}' AS kind, ${column} AS id, ${clinic} AS clinic_id, 'id' AS matched, ${event} AS event_id FROM ${table} t
WHERE ${key} >= ${from} AND ${key} < ${to}${cased}${inScope} ORDER BY ${key} LIMIT ${n}`;
  // `t.` because the events' result column `event_id` (NULL) would otherwise stand for the id in ORDER BY.
  const id = `t.${column}`;
  const sql = `SELECT * FROM (
  SELECT * FROM (${select(id, ` AND ${id} = lower(${id})`)})
  UNION ALL
  SELECT * FROM (${select(`lower(${id})`, ` AND ${id} <> lower(${id})`)})
) ORDER BY lower(id) LIMIT ${n}`;
  return query<SearchHit>(db.prepare(sql).bind(...params.values));
}

/** The kinds of id the prefix search covers, in the order results are shown. */
export const ID_KINDS = Object.keys(ID_TABLES) as SearchHit["kind"][];
