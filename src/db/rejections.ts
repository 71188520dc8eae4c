import { type Query, query, readBatch } from "./batch";
import { andInScope, type StaffScope } from "./scope";

/**
 * Typed SQL for rejected webhook deliveries (`webhook_rejections`, migration 0090): one counter per
 * clinic (or `unknown`), reason and UTC minute. Written after the edge has answered; read by the admin
 * API (per hour), the console overview and the lifecycle watch.
 */

/** The clinic of a rejection that cannot be tied to a served clinic (a bad key, an unserved clinic id). */
export const UNKNOWN_CLINIC = "unknown";

export interface Rejection {
  clinicId: string;
  /** The answer's error code, e.g. `unauthorized`. */
  reason: string;
  at: Date;
}

/** `YYYY-MM-DDTHH:MM` (UTC) of an instant: the row's minute. */
export function minuteKey(at: Date): string {
  return at.toISOString().slice(0, 16);
}

/** Counts one rejection: one upsert on the primary key. */
export async function recordRejection(db: D1Database, rejection: Rejection): Promise<void> {
  await recordRejections(db, [{ ...rejection, count: 1 }]);
}

/** Adds several counts in one batch, each to its (clinic, reason, minute) row. */
export async function recordRejections(
  db: D1Database,
  rejections: readonly (Rejection & { count: number })[],
): Promise<void> {
  if (rejections.length === 0) return;
  const upsert = db.prepare(
    `INSERT INTO webhook_rejections (clinic_id, reason, minute, count, last_at) VALUES (?1, ?2, ?3, ?5, ?4)
ON CONFLICT (clinic_id, reason, minute) DO UPDATE SET count = count + excluded.count, last_at = max(last_at, excluded.last_at)`,
  );
  await db.batch(
    rejections.map((rejection) =>
      upsert.bind(
        rejection.clinicId,
        rejection.reason,
        minuteKey(rejection.at),
        rejection.at.toISOString(),
        rejection.count,
      ),
    ),
  );
}

/** Rejections of one clinic and reason in one UTC hour (`YYYY-MM-DDTHH`). */
export interface HourlyRejections {
  clinic_id: string;
  reason: string;
  hour: string;
  count: number;
  last_at: string;
}

/** Every rejection from the minute of `since` on, within `inScope` (an identity's clinics). */
function totalSince(db: D1Database, inScope: ReturnType<typeof andInScope>, since: Date): Query<{ count: number }> {
  return query<{ count: number }>(
    db
      .prepare(`SELECT COALESCE(SUM(count), 0) AS count FROM webhook_rejections WHERE minute >= ?1${inScope.sql}`)
      .bind(minuteKey(since), ...inScope.values),
  );
}

/** The most (clinic, reason, hour) groups one answer lists: 30 days of every reason for a few clinics. */
export const MAX_REJECTION_GROUPS = 5000;

export interface RejectionList {
  /** Newest hour first; at most {@link MAX_REJECTION_GROUPS}. */
  rows: HourlyRejections[];
  /** Every rejection since `since`, counted whether or not its group is listed. */
  total: number;
  /** True when older groups were left out (ask again with a later `since`). */
  truncated: boolean;
}

/**
 * Rejections from the minute of `since` on, per clinic, reason and hour, newest hour first
 * (`webhook_rejections_minute`), with their exact total, in one round trip. An identity of some
 * clinics reads its clinics' rows only (not `unknown`, which names no clinic).
 */
export async function listRejections(db: D1Database, scope: StaffScope, since: Date): Promise<RejectionList> {
  const inScope = andInScope(scope, "clinic_id", "?2");
  const [total, rows] = await readBatch(db, [
    totalSince(db, inScope, since),
    query<HourlyRejections>(
      db
        .prepare(
          `SELECT clinic_id, reason, substr(minute, 1, 13) AS hour, SUM(count) AS count, MAX(last_at) AS last_at
FROM webhook_rejections WHERE minute >= ?1${inScope.sql}
GROUP BY clinic_id, reason, hour ORDER BY hour DESC, count DESC, clinic_id, reason LIMIT ${MAX_REJECTION_GROUPS + 1}`,
        )
        .bind(minuteKey(since), ...inScope.values),
    ),
  ]);
  return {
    rows: rows.slice(0, MAX_REJECTION_GROUPS),
    total: total[0]?.count ?? 0,
    truncated: rows.length > MAX_REJECTION_GROUPS,
  };
}

export interface RejectionSummary {
  count: number;
  /** The newest rejection's reason and time; null when there was none. */
  last_reason: string | null;
  last_at: string | null;
}

/** How many rejections since `since`, and the newest one's reason, in one round trip. */
export async function rejectionSummary(db: D1Database, scope: StaffScope, since: Date): Promise<RejectionSummary> {
  // An identity of some clinics sees its clinics' rejections only (not `unknown`: it names no clinic).
  const inScope = andInScope(scope, "clinic_id", "?2");
  const [total, last] = await readBatch(db, [
    totalSince(db, inScope, since),
    query<{ reason: string; last_at: string }>(
      db
        .prepare(
          `SELECT reason, last_at FROM webhook_rejections WHERE minute >= ?1${inScope.sql} ORDER BY minute DESC, last_at DESC LIMIT 1`,
        )
        .bind(minuteKey(since), ...inScope.values),
    ),
  ]);
  const lastRow = last[0] ?? null;
  return {
    count: Number(total[0]?.count ?? 0),
    last_reason: lastRow?.reason ?? null,
    last_at: lastRow?.last_at ?? null,
  };
}

/** Days rejection counters are kept: the admin list and the watch look back a day at most. */
export const REJECTION_RETENTION_DAYS = 30;

/** Deletes counters older than {@link REJECTION_RETENTION_DAYS} before `now`, at most `limit` rows; answers how many. */
export async function purgeOldRejections(db: D1Database, now: Date, limit = 5000): Promise<number> {
  const cutoff = minuteKey(new Date(now.getTime() - REJECTION_RETENTION_DAYS * 86_400_000));
  const result = await db
    .prepare(
      `DELETE FROM webhook_rejections WHERE (clinic_id, reason, minute) IN
  (SELECT clinic_id, reason, minute FROM webhook_rejections WHERE minute < ?1 LIMIT ?2)`,
    )
    .bind(cutoff, limit)
    .run();
  return result.meta.changes ?? 0;
}
