import { type ListPosition, nextPage, type Page, pageLimit } from "./paging";
import { where } from "./parameters";
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
  limit: number;
  /** Continue after this position (`at`, `audit_id`) in the newest-first order. */
  after?: ListPosition;
}

/**
 * A page of audit rows newest first (time, then insertion order), filtered by actor, action and/or
 * target; the admin API's `GET /admin/audit` and the console's audit page read through here. Only
 * the filters given go into the SQL, so each query uses its index (audit_by_actor, audit_by_target,
 * audit_by_clinic or audit_newest) instead of a scan.
 */
export async function listAuditRows(db: D1Database, scope: StaffScope, query: AuditListQuery): Promise<Page<AuditRow>> {
  const filters = where()
    // A scope of some clinics sees the rows about its clinics (the clinic_id column).
    .and(scope.clinics !== "all", (param) => inScopeCondition(scope, "clinic_id", param))
    .and(query.actor !== undefined, (param) => `actor = ${param(query.actor)}`)
    .and(query.action !== undefined, (param) => `action = ${param(query.action)}`)
    .and(query.targetType !== undefined, (param) => `target_type = ${param(query.targetType)}`)
    .and(query.targetId !== undefined, (param) => `target_id = ${param(query.targetId)}`)
    .after(query.after, { time: "at", id: "audit_id" }, "desc");
  const limit = filters.param(pageLimit(query.limit));
  const { results } = await db
    .prepare(
      `SELECT audit_id, at, actor, action, target_type, target_id, request_id, outcome, status, detail, clinic_id, role
FROM audit ${filters.clause} ORDER BY at DESC, audit_id DESC LIMIT ${limit}`,
    )
    .bind(...filters.values)
    .all<Omit<AuditRow, "detail"> & { detail: string | null }>();
  const rows = results.map((row) => ({
    ...row,
    detail: row.detail ? (JSON.parse(row.detail) as Record<string, number>) : null,
  }));
  return nextPage(rows, query.limit, (row) => ({ time: row.at, id: row.audit_id }));
}

/** Deletes audit rows older than `cutoff`, at most `chunk` per call; returns rows deleted. */
export async function purgeAuditRows(db: D1Database, cutoff: string, chunk: number): Promise<number> {
  const result = await db
    .prepare(`DELETE FROM audit WHERE audit_id IN (SELECT audit_id FROM audit WHERE at < ?1 LIMIT ?2)`)
    .bind(cutoff, chunk)
    .run();
  return result.meta.changes ?? 0;
}

/**
 * Who acted, for the audit rows a `src/db` function writes itself beside the change they record (one
 * `event.replay` row per event of a bulk replay, in the same D1 batch as its compare-and-set).
 */
export interface AuditActor {
  actor: string;
  role: string | null;
  requestId: string | null;
}

/** The action of every replay of one event, single or one event of a bulk replay. */
export const EVENT_REPLAY_ACTION = "event.replay";
/** The detail of an `event.replay` row written for one event of a bulk replay (its request's id is the bulk row's). */
export const BULK_REPLAY_DETAIL = { bulk: 1 } as const;

/**
 * The SQL that inserts one `event.replay` row per row of `source`, a SELECT giving `target_id` and
 * `clinic_id` (the event's own clinic, so its clinic's staff see the row and no other clinic's do).
 * Parameters `?{first}`.. `?{first + 5}`: time, actor, request id, outcome, HTTP status, role; see
 * {@link replayAuditValues}.
 */
export function insertReplayAuditSql(source: string, first: number): string {
  const p = (offset: number) => `?${first + offset}`;
  return `INSERT INTO audit (at, actor, action, target_type, target_id, request_id, outcome, status, detail, clinic_id, role)
SELECT ${p(0)}, ${p(1)}, '${EVENT_REPLAY_ACTION}', 'event', target_id, ${p(2)}, ${p(3)}, ${p(4)}, '${JSON.stringify(BULK_REPLAY_DETAIL)}', clinic_id, ${p(5)}
FROM (${source})`;
}

/** The values of {@link insertReplayAuditSql}'s parameters, in order. */
export function replayAuditValues(
  who: AuditActor,
  at: string,
  outcome: AuditOutcome,
  status: number,
): [string, string, string | null, AuditOutcome, number, string | null] {
  return [at, who.actor, who.requestId, outcome, status, who.role];
}

/** Marks per-event replay rows whose enqueue failed (the replay was undone) as `error` 503. */
export function failReplayAuditRows(db: D1Database, auditIds: readonly number[]): D1PreparedStatement {
  return db
    .prepare(`UPDATE audit SET outcome = 'error', status = 503 WHERE audit_id IN (SELECT value FROM json_each(?1))`)
    .bind(JSON.stringify(auditIds));
}

/** One thing staff did to an event (a replay, a payload reveal), for its page's history. */
export interface EventAction {
  at: string;
  actor: string;
  action: string;
  outcome: string;
  status: number;
  /** True for one event's row of a bulk replay (console "Replay selected"/"Replay all matching", `POST /admin/events/replay`). */
  bulk: boolean;
}

/**
 * What staff did to one event, newest first (`audit_by_target`): replays from the console or the
 * admin API, single or bulk (one row per event of a bulk replay), and payload reveals; page views
 * (`event.read`) are left out. The caller has already read the event through its scope.
 */
export async function eventActions(db: D1Database, eventId: string, limit: number): Promise<EventAction[]> {
  const { results } = await db
    .prepare(
      `SELECT at, actor, action, outcome, status, detail FROM audit
WHERE target_type = 'event' AND target_id = ?1 AND action != 'event.read'
ORDER BY at DESC, audit_id DESC LIMIT ?2`,
    )
    .bind(eventId, limit)
    .all<Omit<EventAction, "bulk"> & { detail: string | null }>();
  return results.map(({ detail, ...action }) => ({
    ...action,
    bulk: detail === JSON.stringify(BULK_REPLAY_DETAIL),
  }));
}
