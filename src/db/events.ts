import { andInScope, type StaffScope } from "./scope";

/**
 * Typed SQL for the `events` table: the idempotency record of every NovaMed event. A consumer records
 * each event with its outcome in the same `db.batch` as its effects, under a token of its own in
 * `lease_owner`; every effect statement checks that token, so only the attempt whose record took the
 * event applies it, once, even when deliveries race or a batch's answer is lost.
 */

import { type Query, query, readBatch } from "./batch";
import { type MarkedPurge, type MarkedPurgeRun, markedPurgeRun } from "./purge-mark";

export type EventStatus = "queued" | "processing" | "processed" | "ignored" | "invalid" | "failed" | "dead";
/**
 * The condition of `events_status_received` (migration 0170): it indexes the events not `processed`,
 * the few in flight or needing someone, not the many done. SQLite uses a partial index only when the
 * query's WHERE holds this very term (`status = ?1`, or `status = 'dead'`, does not imply it when
 * the statement is prepared), so every query by another status adds it, and one by `processed` reads
 * a time-ordered index and filters.
 */
export const STATUS_INDEXED = "status <> 'processed'";

export const EVENT_STATUSES: readonly EventStatus[] = [
  "queued",
  "processing",
  "processed",
  "ignored",
  "invalid",
  "failed",
  "dead",
];

/** A delivery to record: what the consumer knows of one queue message. */
export interface ClaimRequest {
  eventId: string;
  eventType: string;
  clinicId: string;
  occurredAt: string;
  receivedAt: string;
  payload: string;
  payloadHash: string;
  requestId: string | null;
}

export interface ClaimedRow {
  event_id: string;
  status: EventStatus;
  lease_owner: string | null;
  lease_expires_at: number | null;
  payload_hash: string;
  attempts: number;
}

/** The final status an applied event is given. */
export interface Completion {
  eventId: string;
  status: "processed" | "ignored" | "invalid" | "failed" | "dead";
  /** Validation issues (paths and messages, never values) for `invalid`. */
  issues?: string | null;
  /** An error kind or summary for `failed` and `dead`; never payload values. */
  error?: string | null;
  /** Optional fields coerced or dropped (JSON `[{path, message}]`, never values) for `processed`. */
  warnings?: string | null;
}

/**
 * The event row with its outcome, written in the same `db.batch` as the event's effects (issue 26:
 * one round trip and two D1 rows an event fewer than a claim `processing` then a status update). It
 * takes the event when it is new, waiting for a retry (`queued`, `failed`, `dead`), or held by an
 * expired lease of the release before (which claimed `processing` first; ?10 is now). Taking it sets
 * `lease_owner` to the attempt's token, which every effect statement of the batch checks, so only
 * the attempt that took the event applies it; the token stays on the row (no second write to clear
 * it) and a later attempt has its own. A row taken again keeps its stored payload (SETting `payload`,
 * even to itself, writes its JSON-path index entries again). Only a `processed` outcome SETs
 * `applications`: SETting it unchanged (`+ 0`) wrote the event's `events_reapplied` entry again (a
 * row) whenever the event had been applied more than once before.
 */
function recordSql(applied: boolean): string {
  return `INSERT INTO events (event_id, event_type, clinic_id, status, attempts, occurred_at, received_at,
  payload, payload_hash, lease_owner, request_id, processed_at, last_error, issues, warnings, applications)
VALUES (?1, ?2, ?3, ?11, 1, ?4, ?5, ?6, ?7, ?8, ?9, CASE WHEN ?11 IN ('failed', 'dead') THEN NULL ELSE ?12 END,
  ?13, ?14, ?15, ${applied ? 1 : 0})
ON CONFLICT (event_id) DO UPDATE SET
  status = excluded.status,
  attempts = events.attempts + 1,
  lease_owner = excluded.lease_owner,
  lease_expires_at = NULL,
  request_id = excluded.request_id,
  processed_at = CASE WHEN excluded.status IN ('failed', 'dead') THEN events.processed_at ELSE excluded.processed_at END,
  last_error = excluded.last_error,
  issues = excluded.issues,
  warnings = excluded.warnings${applied ? ",\n  applications = events.applications + 1" : ""}
WHERE events.payload_hash = excluded.payload_hash
  AND (events.status IN ('queued', 'failed', 'dead')
       OR (events.status = 'processing' AND events.lease_expires_at <= ?10))`;
}
const RECORD_APPLIED_SQL = recordSql(true);
const RECORD_NOT_APPLIED_SQL = recordSql(false);

/**
 * Gives an event taken again whose payload was purged the delivery's (same content: same hash), so a
 * replay can use it again; writes nothing otherwise. Not a SET of the record's upsert: SETting
 * `payload` writes the event's entry in each JSON-path index again (up to four D1 rows per event
 * taken again), for a payload nearly always still there.
 */
const RESTORE_PAYLOAD_SQL = `UPDATE events SET payload = ?2 WHERE event_id = ?1 AND lease_owner = ?3 AND payload IS NULL`;

/**
 * One statement for the whole batch, not one per delivery: each stored row counts the deliveries of
 * its id whose content differs from what it holds. ?1 is a JSON array of `[event_id, payload_hash]`
 * pairs. The deliveries are joined to their rows once (by primary key) and grouped: a correlated count
 * per row read the whole array for every row, n² array rows a batch (about 9,000 rows read for a
 * batch of 100, issue 26).
 */
const COUNT_CONFLICTS_SQL = `UPDATE events SET conflicts = conflicts + differing.deliveries
FROM (
  SELECT events.event_id AS event_id, COUNT(*) AS deliveries
  FROM json_each(?1) AS delivery
  JOIN events ON events.event_id = json_extract(delivery.value, '$[0]')
  WHERE json_extract(delivery.value, '$[1]') <> events.payload_hash
  GROUP BY events.event_id) AS differing
WHERE events.event_id = differing.event_id`;

const RECORDED_ROWS_SQL = `SELECT event_id, status, lease_owner, lease_expires_at, payload_hash, attempts
FROM events WHERE event_id IN (SELECT value FROM json_each(?1))`;

/**
 * Clears `token` from an event it took. First in a batch that repeats an attempt under the same token
 * (after a batch whose answer was lost: it may have committed), so the repeat's effects see the event
 * as taken only if the repeat's own record takes it again; otherwise the statements guarded by the
 * token would apply it twice. Writes nothing unless the first batch committed.
 */
const RELEASE_TOKEN_SQL = `UPDATE events SET lease_owner = NULL WHERE event_id = ?1 AND lease_owner = ?2`;

/** D1 queries of {@link recordEvent}: the record and the payload restore. */
export const RECORD_QUERIES = 2;

/**
 * The statements that record one delivery's event with `completion` under `token`, to go before the
 * event's effects in their `db.batch`: the upsert ({@link recordSql}) and the payload restore.
 * `now` is epoch ms: an expired lease of the release before is taken over.
 */
export function recordEvent(
  db: D1Database,
  request: ClaimRequest,
  completion: Completion,
  token: string,
  now: number,
): D1PreparedStatement[] {
  const record = db
    .prepare(completion.status === "processed" ? RECORD_APPLIED_SQL : RECORD_NOT_APPLIED_SQL)
    .bind(
      request.eventId,
      request.eventType,
      request.clinicId,
      request.occurredAt,
      request.receivedAt,
      request.payload,
      request.payloadHash,
      token,
      request.requestId,
      now,
      completion.status,
      new Date(now).toISOString(),
      completion.error ?? null,
      completion.issues ?? null,
      completion.warnings ?? null,
    );
  return [record, db.prepare(RESTORE_PAYLOAD_SQL).bind(request.eventId, request.payload, token)];
}

/** The conflict count of a batch's deliveries ({@link COUNT_CONFLICTS_SQL}), after their records. */
export function countConflicts(db: D1Database, requests: readonly ClaimRequest[]): D1PreparedStatement {
  return db
    .prepare(COUNT_CONFLICTS_SQL)
    .bind(JSON.stringify(requests.map((request) => [request.eventId, request.payloadHash])));
}

/**
 * The rows of `eventIds` as they stand, read last in the batch that recorded them: a row whose
 * `lease_owner` is the attempt's token was taken, and its outcome and effects committed, by it.
 */
export function readRecorded(db: D1Database, eventIds: readonly string[]): Query<ClaimedRow> {
  return query<ClaimedRow>(db.prepare(RECORDED_ROWS_SQL).bind(JSON.stringify(eventIds)));
}

/** Clears `token` from `eventId` ({@link RELEASE_TOKEN_SQL}): first in a repeat under the same token. */
export function releaseToken(db: D1Database, eventId: string, token: string): D1PreparedStatement {
  return db.prepare(RELEASE_TOKEN_SQL).bind(eventId, token);
}

export interface EventRow {
  event_id: string;
  event_type: string;
  clinic_id: string;
  status: EventStatus;
  attempts: number;
  occurred_at: string;
  received_at: string;
  processed_at: string | null;
  last_error: string | null;
  issues: string | null;
  warnings: string | null;
  payload: string | null;
  payload_purged_at: string | null;
  conflicts: number;
  applications: number;
}

/** The columns of an {@link EventRow}: every list and lookup of events selects these. */
export const EVENT_ROW_COLUMNS = `event_id, event_type, clinic_id, status, attempts, occurred_at, received_at, processed_at,
  last_error, issues, warnings, payload, payload_purged_at, conflicts, applications`;

/** One event within `scope`, or null (another clinic's event reads as unknown). */
export async function getEventRow(db: D1Database, scope: StaffScope, eventId: string): Promise<EventRow | null> {
  const inScope = andInScope(scope, "clinic_id", "?2");
  return db
    .prepare(`SELECT ${EVENT_ROW_COLUMNS} FROM events WHERE event_id = ?1${inScope.sql}`)
    .bind(eventId, ...inScope.values)
    .first<EventRow>();
}

/** Of `eventIds`, those of events within `scope` (all of them, unread, for a scope of every clinic). */
export async function eventIdsInScope(
  db: D1Database,
  scope: StaffScope,
  eventIds: readonly string[],
): Promise<string[]> {
  if (scope.clinics === "all") return [...eventIds];
  const inScope = andInScope(scope, "clinic_id", "?2");
  const { results } = await db
    .prepare(`SELECT event_id FROM events WHERE event_id IN (SELECT value FROM json_each(?1))${inScope.sql}`)
    .bind(JSON.stringify(eventIds), ...inScope.values)
    .all<{ event_id: string }>();
  return results.map((row) => row.event_id);
}

/** The payload purge (migration 0161): a kept payload of a finished event, or of one in flight received before `?4`. */
const PAYLOAD_PURGE: MarkedPurge = {
  mark: "events.payload",
  table: "events",
  idColumn: "event_id",
  timeColumn: "received_at",
  set: "payload = NULL, payload_purged_at = ?2",
  purgeable: "payload IS NOT NULL AND (status NOT IN ('queued', 'processing', 'failed') OR received_at < ?4)",
};

export interface PayloadPurgeRun extends MarkedPurgeRun {
  /** Purges up to `chunk` payloads of events stuck in flight since before the stuck cutoff; answers how many. */
  stuck(): Promise<number>;
}

/**
 * One run of the payload purge: removes payloads received before `cutoff`, `chunk` rows per call,
 * keeping id, type, status and times so deduplication still works. Events still in flight keep theirs
 * until `stuckCutoff`, after which no queue can still hold their message.
 *
 * No index of the unpurged rows (it cost a row written per event; migration 0161): the run walks
 * events_received up from a mark ({@link markedPurgeRun}). Rows the mark passes while in flight go
 * once stuck ({@link PayloadPurgeRun.stuck}, through events_status_received); a row that finishes or
 * gets its payload back below the mark (a replay, a retry, a redelivery restoring a purged payload)
 * moves the mark down to itself (the triggers of migration 0161), so the next run takes it.
 */
export function payloadPurgeRun(
  db: D1Database,
  window: { cutoff: string; stuckCutoff: string; now: string; chunk: number },
): PayloadPurgeRun {
  const { cutoff, stuckCutoff, now, chunk } = window;
  return {
    ...markedPurgeRun(db, PAYLOAD_PURGE, { cutoff, now, chunk, extra: stuckCutoff }),
    async stuck() {
      const result = await db
        .prepare(
          `UPDATE events SET payload = NULL, payload_purged_at = ?2
WHERE event_id IN (
  SELECT event_id FROM events
  WHERE status IN ('queued', 'processing', 'failed') AND ${STATUS_INDEXED} AND received_at < ?1
    AND payload IS NOT NULL
  LIMIT ?3)`,
        )
        .bind(stuckCutoff, now, chunk)
        .run();
      return result.meta.changes ?? 0;
    },
  };
}

export interface EventStats {
  total: number;
  by_status: Partial<Record<EventStatus, number>>;
  /** Same-id deliveries with different content, kept out. */
  conflicts: number;
  /** Events whose effects were committed more than once (only a forced replay should do that). */
  applied_more_than_once: number;
}

/**
 * Counts for monitoring and the benchmark: events by status, conflicts, repeated applications. The
 * statuses other than `processed` are counted from `events_status_received`, which holds only those
 * (migration 0170); `processed` is the total, counted from the smallest covering index (or
 * `events_clinic_received` for some clinics), less those. One batch, so both counts see the same rows.
 */
export async function eventStats(db: D1Database, scope: StaffScope): Promise<EventStats> {
  const inScope = andInScope(scope, "clinic_id", "?1");
  const [byStatus, totals] = await readBatch(db, [
    query<{ status: string; count: number }>(
      db
        .prepare(`SELECT status, COUNT(*) AS count FROM events WHERE ${STATUS_INDEXED}${inScope.sql} GROUP BY status`)
        .bind(...inScope.values),
    ),
    // The sums read only the partial indexes of the few rows with conflicts or repeated applications
    // (migration 0006).
    query<{ total: number; conflicts: number; repeated: number }>(
      db
        .prepare(`SELECT
      (SELECT COUNT(*) FROM events WHERE 1${inScope.sql}) AS total,
      (SELECT COALESCE(SUM(conflicts), 0) FROM events WHERE conflicts > 0${inScope.sql}) AS conflicts,
      (SELECT COUNT(*) FROM events WHERE applications > 1${inScope.sql}) AS repeated`)
        .bind(...inScope.values),
    ),
  ]);
  const row = totals[0];
  const total = Number(row?.total ?? 0);
  const counts = byStatus.map((entry) => [String(entry.status), Number(entry.count)] as const);
  const processed = total - counts.reduce((sum, [, count]) => sum + count, 0);
  // In status order, as one GROUP BY over every status listed them.
  const byStatusName = [...counts, ...(processed > 0 ? [["processed", processed] as const] : [])].sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return {
    total,
    by_status: Object.fromEntries(byStatusName),
    conflicts: Number(row?.conflicts ?? 0),
    applied_more_than_once: Number(row?.repeated ?? 0),
  };
}
