import { type AuditActor, failReplayAuditRows, insertReplayAuditSql, replayAuditValues } from "./audit";
import { query, readBatch } from "./batch";
import { type EventStatus, STATUS_INDEXED } from "./events";
import { ALL_CLINICS, andInScope, type StaffScope } from "./scope";

/**
 * Typed SQL that puts stored events back to `queued` for re-enqueueing: a replay (one event, a bulk
 * filter, a selection) and the sweep of stuck events. Each move is a compare-and-set on the status,
 * so two runs never take one event twice; `revertReplay` undoes a move whose enqueue failed.
 */

/** Statuses a replay may start from; `force` adds the finished ones. */
export const REPLAYABLE: readonly EventStatus[] = ["dead", "invalid", "failed"];
export const FORCE_REPLAYABLE: readonly EventStatus[] = [...REPLAYABLE, "processed", "ignored"];

/**
 * Moves an event to `queued` for a replay when its status allows it and its payload is still kept.
 * Returns the status it had, or null when nothing changed.
 */
export async function markQueuedForReplay(
  db: D1Database,
  eventId: string,
  allowed: readonly EventStatus[],
  now: string,
): Promise<EventStatus | null> {
  const current = await db
    .prepare(`SELECT status FROM events WHERE event_id = ?1 AND payload IS NOT NULL`)
    .bind(eventId)
    .first<{ status: EventStatus }>();
  if (!current || !allowed.includes(current.status)) return null;
  // Compare-and-set on the status just read, so two concurrent replays enqueue once.
  const result = await db
    .prepare(
      `UPDATE events SET status = 'queued', queued_at = ?3, last_error = NULL WHERE event_id = ?1 AND status = ?2`,
    )
    .bind(eventId, current.status, now)
    .run();
  return (result.meta.changes ?? 0) === 1 ? current.status : null;
}

/** What re-enqueueing an event needs of its row. */
export interface RequeueRow {
  event_id: string;
  payload: string;
  received_at: string;
}

/** Which events a bulk re-drive takes: one replayable status, optionally a type and a received range. */
export interface BulkReplayFilter {
  status: "dead" | "failed" | "invalid";
  type?: string;
  receivedAfter?: string;
  receivedBefore?: string;
  /** Only these events (the console's selection); each still has to have `status`. */
  eventIds?: readonly string[];
  limit: number;
  /** Only events of the clinics a limited staff scope covers (absent: every clinic). */
  scope?: StaffScope;
}

/** What a bulk move to `queued` took: the rows to enqueue, and each one's `event.replay` audit row. */
export interface BulkReplayMarked {
  rows: RequeueRow[];
  /** The audit id of each taken event's row, by event id (to mark it failed if its enqueue fails). */
  auditIds: Map<string, number>;
}

/**
 * Moves up to `limit` events matching `filter` (oldest first, payload still kept) to `queued` and
 * writes one `event.replay` audit row per event taken (who: `who`, at `now`, `success` 202, detail
 * `{"bulk":1}`, the event's clinic), in one D1 batch of two statements whatever the count: the
 * audit INSERT … SELECT first, then the UPDATE, both over the same candidate query. A batch is one
 * transaction and the INSERT changes no event, so both see the same candidates: an event is never
 * recorded as replayed without being moved, nor moved without its row. The status test in the
 * UPDATE's WHERE is the same compare-and-set as a single replay's, so concurrent re-drives take each
 * event once. The SQL is built per filter so every variant uses an index.
 */
export async function markQueuedForBulkReplay(
  db: D1Database,
  filter: BulkReplayFilter,
  now: string,
  who: AuditActor,
): Promise<BulkReplayMarked> {
  // The literal term lets SQLite read the partial `events_status_received` (never `processed` here).
  const conditions = ["status = ?1", STATUS_INDEXED, "payload IS NOT NULL"];
  if (filter.type !== undefined) conditions.push("event_type = ?3");
  if (filter.receivedAfter !== undefined) conditions.push("received_at > ?4");
  if (filter.receivedBefore !== undefined) conditions.push("received_at < ?5");
  if (filter.eventIds !== undefined) conditions.push("event_id IN (SELECT value FROM json_each(?6))");
  const inScope = andInScope(filter.scope ?? ALL_CLINICS, "clinic_id", "?8");
  if (inScope.sql) conditions.push(inScope.sql.replace(" AND ", ""));
  const taken = `status = ?1 AND event_id IN (
  SELECT event_id FROM events WHERE ${conditions.join(" AND ")} ORDER BY received_at LIMIT ?7)`;
  const filterValues = [
    filter.status,
    now,
    filter.type ?? null,
    filter.receivedAfter ?? null,
    filter.receivedBefore ?? null,
    filter.eventIds === undefined ? null : JSON.stringify(filter.eventIds),
    // The highest parameter number is always used, so D1 accepts all seven values for every filter.
    filter.limit,
  ];
  const [audited, moved] = await readBatch(db, [
    query<{ audit_id: number; target_id: string }>(
      db
        .prepare(
          `${insertReplayAuditSql(`SELECT event_id AS target_id, clinic_id FROM events WHERE ${taken}`, 9)}
RETURNING audit_id, target_id`,
        )
        // ?8 is bound (null) even for a scope of every clinic, so the audit values keep their numbers.
        .bind(...filterValues, inScope.values[0] ?? null, ...replayAuditValues(who, now, "success", 202)),
    ),
    query<RequeueRow>(
      db
        .prepare(
          `UPDATE events SET status = 'queued', queued_at = ?2, last_error = NULL WHERE ${taken}
RETURNING event_id, payload, received_at`,
        )
        .bind(...filterValues, ...inScope.values),
    ),
  ]);
  return { rows: moved, auditIds: new Map(audited.map((row) => [row.target_id, row.audit_id])) };
}

/**
 * Writes an `event.replay` row, `rejected` 409 with detail `{"bulk":1}`, for each selected event a
 * bulk replay did not take (`selected` minus `taken`: no longer dead, failed or invalid, or its
 * payload purged), so its page says the replay skipped it. One statement whatever the count.
 */
export async function recordSkippedReplays(
  db: D1Database,
  selected: readonly string[],
  taken: readonly string[],
  now: string,
  who: AuditActor,
  scope: StaffScope = ALL_CLINICS,
): Promise<void> {
  // Only the caller's clinics' events: another clinic's was never the caller's to replay, and a row
  // on it would show the caller's identity to that clinic's staff.
  const inScope = andInScope(scope, "clinic_id", "?3");
  await db
    .prepare(
      insertReplayAuditSql(
        `SELECT event_id AS target_id, clinic_id FROM events
WHERE event_id IN (SELECT value FROM json_each(?1)) AND event_id NOT IN (SELECT value FROM json_each(?2))${inScope.sql}`,
        4,
      ),
    )
    // ?3 is bound (null) even for a scope of every clinic, so the audit values keep their numbers.
    .bind(
      JSON.stringify(selected),
      JSON.stringify(taken),
      inScope.values[0] ?? null,
      ...replayAuditValues(who, now, "rejected", 409),
    )
    .run();
}

/**
 * Undoes {@link markQueuedForReplay} (or a bulk one) for events whose replay could not be enqueued;
 * a bulk one's per-event audit rows (`auditIds`) become `error` 503 in the same batch.
 */
export async function revertReplay(
  db: D1Database,
  eventIds: readonly string[],
  previous: EventStatus,
  auditIds: readonly number[] = [],
): Promise<void> {
  const revert = db
    .prepare(`UPDATE events SET status = ?2 WHERE event_id IN (SELECT value FROM json_each(?1)) AND status = 'queued'`)
    .bind(JSON.stringify(eventIds), previous);
  if (auditIds.length === 0) await revert.run();
  else await db.batch([revert, failReplayAuditRows(db, auditIds)]);
}

/**
 * Takes events nothing is left to deliver: `queued` since before `queuedBefore` (the replay's send was
 * lost) or `processing` under a lease that ran out before `leaseExpiredBefore` (epoch ms; its consumer
 * died and its message may be gone). Each is put back to `queued` with a fresh `queued_at` (the lease
 * cleared, so a late commit of the old holder changes nothing) and returned for re-enqueueing.
 * Oldest first (by `queued_at`, by lease expiry): an event whose re-send failed has a fresh
 * `queued_at`, so it is retried by age, after the events that have waited longer, never ahead of them.
 */
export async function takeStuckEvents(
  db: D1Database,
  queuedBefore: string,
  leaseExpiredBefore: number,
  now: string,
  limit: number,
): Promise<RequeueRow[]> {
  const { results } = await db
    .prepare(
      `UPDATE events SET status = 'queued', queued_at = ?3, lease_owner = NULL, lease_expires_at = NULL
WHERE event_id IN (
  SELECT event_id FROM events WHERE status = 'queued' AND queued_at < ?1 AND payload IS NOT NULL
  ORDER BY queued_at LIMIT ?4)
OR event_id IN (
  SELECT event_id FROM events WHERE status = 'processing' AND ${STATUS_INDEXED} AND lease_expires_at < ?2
    AND payload IS NOT NULL
  ORDER BY lease_expires_at LIMIT ?4)
RETURNING event_id, payload, received_at`,
    )
    .bind(queuedBefore, leaseExpiredBefore, now, limit)
    .all<RequeueRow>();
  return results;
}
