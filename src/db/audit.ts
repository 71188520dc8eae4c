import { inScopeCondition, type StaffScope } from "./scope";

/**
 * The audit trail (migration 0008): who read or changed what, when, and how it ended. Rows hold ids
 * and outcomes only; the writers in src/http/audit.ts never pass a PHI value.
 */

export const AUDIT_OUTCOMES = ["success", "not_found", "rejected", "error"] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  request_id: string | null;
  outcome: AuditOutcome;
  status: number | null;
  /** Counts for an action over many targets, e.g. `{ imported: 3, failed: 1 }`. */
  detail: Record<string, number> | null;
  /** The clinic the action was about (a patient's, a profile's), or null (migration 0046). */
  clinic_id?: string | null;
  /** The actor's role when it acted (viewer, operator, admin), or null (migration 0048). */
  role?: string | null;
}

export interface AuditRow extends AuditEntry {
  audit_id: number;
}

/** Appends one audit row. */
export async function insertAuditEntry(db: D1Database, entry: AuditEntry): Promise<void> {
  await db
    .prepare(
      `INSERT INTO audit (at, actor, action, target_type, target_id, request_id, outcome, status, detail, clinic_id, role)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)`,
    )
    .bind(
      entry.at,
      entry.actor,
      entry.action,
      entry.target_type,
      entry.target_id,
      entry.request_id,
      entry.outcome,
      entry.status,
      entry.detail ? JSON.stringify(entry.detail) : null,
      entry.clinic_id ?? null,
      entry.role ?? null,
    )
    .run();
}

export interface AuditListQuery {
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  /** Rows to return; the caller asks for one more than a page to learn whether another follows. */
  limit: number;
  /** Continue after this row in the newest-first order. */
  after?: { at: string; auditId: number };
}

/**
 * Audit rows newest first (time, then insertion order), filtered by actor, action and/or target; the admin
 * API's `GET /admin/audit` and the console's audit page read through here.
 */
export async function listAuditRows(db: D1Database, scope: StaffScope, query: AuditListQuery): Promise<AuditRow[]> {
  // Only the filters given go into the SQL, so each query can use its index (audit_by_actor,
  // audit_by_target or audit_newest) instead of a scan.
  const conditions: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `?${values.length}`;
  };
  // A scope of some clinics sees the rows about its clinics (the clinic_id column, audit_by_clinic).
  if (scope.clinics !== "all") conditions.push(inScopeCondition(scope, "clinic_id", param));
  if (query.actor !== undefined) conditions.push(`actor = ${param(query.actor)}`);
  if (query.action !== undefined) conditions.push(`action = ${param(query.action)}`);
  if (query.targetType !== undefined) conditions.push(`target_type = ${param(query.targetType)}`);
  if (query.targetId !== undefined) conditions.push(`target_id = ${param(query.targetId)}`);
  if (query.after) {
    const at = param(query.after.at);
    const id = param(query.after.auditId);
    conditions.push(`(at < ${at} OR (at = ${at} AND audit_id < ${id}))`);
  }
  const limit = param(query.limit);
  const { results } = await db
    .prepare(
      `SELECT audit_id, at, actor, action, target_type, target_id, request_id, outcome, status, detail, clinic_id, role
FROM audit ${conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : ""}
ORDER BY at DESC, audit_id DESC
LIMIT ${limit}`,
    )
    .bind(...values)
    .all<Omit<AuditRow, "detail"> & { detail: string | null }>();
  return results.map((row) => ({
    ...row,
    detail: row.detail ? (JSON.parse(row.detail) as Record<string, number>) : null,
  }));
}

/** Deletes audit rows older than `cutoff`, at most `chunk` per call; returns rows deleted. */
export async function purgeAuditRows(db: D1Database, cutoff: string, chunk: number): Promise<number> {
  const result = await db
    .prepare(`DELETE FROM audit WHERE audit_id IN (SELECT audit_id FROM audit WHERE at < ?1 LIMIT ?2)`)
    .bind(cutoff, chunk)
    .run();
  return result.meta.changes ?? 0;
}
