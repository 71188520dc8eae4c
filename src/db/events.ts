import { andInScope, type StaffScope } from "./scope";

/**
 * Typed SQL for the `events` table: the idempotency record of every NovaMed event. A consumer claims
 * events by `event_id` with a lease; only the lease holder's effects commit (every effect statement is
 * guarded by `lease_owner`), so an event is applied once even when deliveries race or a consumer dies.
 */

import { query, readBatch, readBatchThen } from "./batch";
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

/** A delivery to claim: what the consumer knows of one queue message. */
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

const CLAIM_SQL = `INSERT INTO events (event_id, event_type, clinic_id, status, attempts, occurred_at, received_at,
  payload, payload_hash, lease_owner, lease_expires_at, request_id)
VALUES (?1, ?2, ?3, 'processing', 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
ON CONFLICT (event_id) DO UPDATE SET
  status = 'processing',
  attempts = events.attempts + 1,
  lease_owner = excluded.lease_owner,
  lease_expires_at = excluded.lease_expires_at,
  request_id = excluded.request_id
WHERE events.payload_hash = excluded.payload_hash
  AND (events.status IN ('queued', 'failed', 'dead')
       OR (events.status = 'processing' AND events.lease_expires_at <= ?11))`;

/**
 * One statement for the whole batch, not one per delivery (which doubled the claim's share of D1's
 * 1,000 queries per invocation): each stored row counts the deliveries of its id whose content differs
 * from what it holds. ?1 is a JSON array of `[event_id, payload_hash]` pairs. The deliveries are
 * joined to their rows once (by primary key) and grouped: a correlated count per row read the whole
 * array for every row, n² array rows a batch (about 9,000 rows read for a batch of 100, issue 26).
 */
const COUNT_CONFLICTS_SQL = `UPDATE events SET conflicts = conflicts + differing.deliveries
FROM (
  SELECT events.event_id AS event_id, COUNT(*) AS deliveries
  FROM json_each(?1) AS delivery
  JOIN events ON events.event_id = json_extract(delivery.value, '$[0]')
  WHERE json_extract(delivery.value, '$[1]') <> events.payload_hash
  GROUP BY events.event_id) AS differing
WHERE events.event_id = differing.event_id`;

const CLAIMED_ROWS_SQL = `SELECT event_id, status, lease_owner, lease_expires_at, payload_hash, attempts,
  payload IS NULL AS payload_purged
FROM events WHERE event_id IN (SELECT value FROM json_each(?1))`;

/** A claimed row as read, with whether its payload is gone (purged before this delivery came). */
interface ClaimedRead extends ClaimedRow {
  payload_purged: number;
}

/**
 * Gives a claimed event whose payload was purged the delivery's (same content: same hash), so a
 * replay can use it again. Not a SET of the claim's upsert: SETting `payload`, even to itself, writes
 * the event's entry in each JSON-path index again (up to four D1 rows per claim taken again), for a
 * payload nearly always still there.
 */
const RESTORE_PAYLOAD_SQL = `UPDATE events SET payload = ?2 WHERE event_id = ?1 AND lease_owner = ?3 AND payload IS NULL`;

/**
 * D1 queries of the claim's first round trip for `deliveries`: an upsert each, the conflict count, the
 * read. (A second, rare, round trip restores one payload per event taken back after it was purged.)
 */
function claimQueries(deliveries: number): number {
  return deliveries + 2;
}

/**
 * Claims a whole batch in one round trip: for each delivery an upsert that takes the event when it is
 * new, waiting for a retry (`queued`, `failed`, `dead`) or held by an expired lease; one counter of
 * same-id deliveries whose content differs; then one read of every row ({@link claimQueries} in all).
 * A row whose `lease_owner` is `leaseOwner` afterwards is ours to apply. An event taken whose payload
 * was purged gets the delivery's back in a second round trip, under the lease just taken; should that
 * fail, the error is the claim's (the caller releases the leases and retries). `spend` hears the D1
 * queries of each round trip before it is made, so the caller's query budget counts the restore too.
 */
export async function claimEvents(
  db: D1Database,
  requests: readonly ClaimRequest[],
  leaseOwner: string,
  leaseExpiresAt: number,
  now: number,
  spend: (queries: number) => void = () => {},
): Promise<Map<string, ClaimedRow>> {
  if (requests.length === 0) return new Map();
  const claim = db.prepare(CLAIM_SQL);
  const statements: D1PreparedStatement[] = [];
  for (const request of requests) {
    statements.push(
      claim.bind(
        request.eventId,
        request.eventType,
        request.clinicId,
        request.occurredAt,
        request.receivedAt,
        request.payload,
        request.payloadHash,
        leaseOwner,
        leaseExpiresAt,
        request.requestId,
        now,
      ),
    );
  }
  statements.push(
    db
      .prepare(COUNT_CONFLICTS_SQL)
      .bind(JSON.stringify(requests.map((request) => [request.eventId, request.payloadHash]))),
  );
  spend(claimQueries(requests.length));
  const { last: rows } = await readBatchThen(
    db,
    statements,
    query<ClaimedRead>(db.prepare(CLAIMED_ROWS_SQL).bind(JSON.stringify(requests.map((request) => request.eventId)))),
  );
  const claimed = new Map(rows.map(({ payload_purged, ...row }) => [row.event_id, row]));
  const purged = new Set(
    rows.filter((row) => row.payload_purged && row.lease_owner === leaseOwner).map((row) => row.event_id),
  );
  const restores: D1PreparedStatement[] = [];
  for (const request of requests) {
    // The delivery of the stored content (a same-id one with other content is a conflict), once.
    if (claimed.get(request.eventId)?.payload_hash !== request.payloadHash || !purged.delete(request.eventId)) continue;
    restores.push(db.prepare(RESTORE_PAYLOAD_SQL).bind(request.eventId, request.payload, leaseOwner));
  }
  if (restores.length > 0) {
    spend(restores.length);
    await db.batch(restores);
  }
  return claimed;
}

/**
 * Gives up every claim `leaseOwner` still holds (after a claim whose answer was lost: it may have
 * committed), so redeliveries need not wait for the leases to expire.
 */
export async function releaseLeases(db: D1Database, leaseOwner: string): Promise<void> {
  await db
    .prepare(`UPDATE events SET lease_owner = NULL, lease_expires_at = NULL, status = 'failed', last_error = 'claim interrupted'
WHERE lease_owner = ?1 AND status = 'processing'`)
    .bind(leaseOwner)
    .run();
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
 * The status update, as two statements: only a `processed` outcome SETs `applications`. SETting it
 * unchanged (`+ 0`) wrote the event's `events_reapplied` entry again (a row) whenever the event had
 * been applied more than once before.
 */
function completeSql(applied: boolean): string {
  return `UPDATE events SET
  status = ?2,
  processed_at = CASE WHEN ?2 IN ('failed', 'dead') THEN processed_at ELSE ?3 END,
  last_error = ?4,
  issues = ?5,
  warnings = ?7,${applied ? "\n  applications = applications + 1," : ""}
  lease_owner = NULL,
  lease_expires_at = NULL
WHERE event_id = ?1 AND lease_owner = ?6`;
}
const COMPLETE_APPLIED_SQL = completeSql(true);
const COMPLETE_NOT_APPLIED_SQL = completeSql(false);

/**
 * Records an event's outcome and releases its lease, only if `leaseOwner` still holds it. Placed after
 * the event's effects in the same `db.batch`, so the outcome and the effects commit together;
 * `meta.changes` of 0 means the lease was lost and nothing of ours committed.
 */
export function completeEvent(
  db: D1Database,
  completion: Completion,
  leaseOwner: string,
  now: string,
): D1PreparedStatement {
  return db
    .prepare(completion.status === "processed" ? COMPLETE_APPLIED_SQL : COMPLETE_NOT_APPLIED_SQL)
    .bind(
      completion.eventId,
      completion.status,
      now,
      completion.error ?? null,
      completion.issues ?? null,
      leaseOwner,
      completion.warnings ?? null,
    );
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
