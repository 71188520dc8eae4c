import { query, readBatch } from "./batch";
import type { ChangeRow } from "./changes";
import { type Destination, type DestinationRow, toDestination } from "./destinations";
import { type Lease, outbox } from "./outbox";

/**
 * Typed SQL for forwarding deliveries (migration 0122): the fan-out from the change log to one outbox
 * row per (change, destination), the rows as the outbox machinery claims and records them, each
 * HTTP attempt, the destination's circuit, the list and the replay.
 */

export interface DeliveryKey {
  change_id: string;
  destination_id: string;
}

/** `clinic_deliveries` as an outbox (src/db/outbox.ts): a job names its row by (change, destination). */
export const DELIVERY_OUTBOX = outbox<"change_id" | "destination_id">({
  table: "clinic_deliveries",
  idColumn: "delivery_id",
  keyColumns: ["change_id", "destination_id"],
  openStatuses: ["pending"],
  unknownOutcomeColumns: ["outcome_unknown"],
});

export type DeliveryStatus = "pending" | "delivered" | "failed";

export interface DeliveryRow {
  delivery_id: string;
  change_id: string;
  destination_id: string;
  change_sequence: number;
  status: DeliveryStatus;
  attempts: number;
  error: string | null;
  next_attempt_at: string | null;
  last_http_status: number | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
  /** Time waited behind a paused destination without a try (migration 0156). */
  paused_ms: number;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  at: string;
  http_status: number | null;
  latency_ms: number;
  error_class: string | null;
  response_excerpt: string | null;
}

/** Changes fanned out per destination per take: one statement's worth, far under D1's limits. */
export const FAN_OUT_TAKE = 200;

/** The enabled destinations, with the newest change sequence (what each has yet to fan out). */
export async function fanOutState(db: D1Database): Promise<{ destinations: Destination[]; newest: number }> {
  const [destinations, newest] = await readBatch(db, [
    // The furthest behind first, so a run's shared budget reaches every destination in turn.
    query<DestinationRow>(
      db.prepare(`SELECT * FROM destinations WHERE enabled = 1 ORDER BY fanout_cursor, destination_id`),
    ),
    query<{ newest: number | null }>(db.prepare(`SELECT MAX(sequence) AS newest FROM changes`)),
  ]);
  return {
    destinations: destinations.map(toDestination),
    newest: newest[0]?.newest ?? 0,
  };
}

/**
 * One take of a destination's fan-out, in one batch: a row for each of its clinic's changes of the
 * types it wants after its cursor up to `upTo`, and the cursor moved (only from where this take
 * started). The jobs are the rows this take inserted: two takes at once insert each row once, so
 * neither enqueues the other's (a row whose job is lost is the sweep's).
 */
export async function fanOutTake(
  db: D1Database,
  destination: Destination,
  upTo: number,
  now: string,
): Promise<DeliveryKey[]> {
  const every = destination.events.includes("*") ? 1 : 0;
  const [jobs] = await readBatch(db, [
    query<DeliveryKey>(
      db
        .prepare(
          `INSERT INTO clinic_deliveries (delivery_id, change_id, destination_id, change_sequence, status, created_at, updated_at)
SELECT 'dlv_' || lower(hex(randomblob(12))), change_id, ?1, sequence, 'pending', ?4, ?4
FROM changes
WHERE sequence > ?2 AND sequence <= ?3 AND clinic_id = ?5 AND (?6 = 1 OR type IN (SELECT value FROM json_each(?7)))
ON CONFLICT (change_id, destination_id) DO NOTHING
RETURNING change_id, destination_id`,
        )
        .bind(
          destination.destination_id,
          destination.fanout_cursor,
          upTo,
          now,
          destination.clinic_id,
          every,
          JSON.stringify(destination.events),
        ),
    ),
    query<never>(
      db
        .prepare(`UPDATE destinations SET fanout_cursor = ?3 WHERE destination_id = ?1 AND fanout_cursor = ?2`)
        .bind(destination.destination_id, destination.fanout_cursor, upTo),
    ),
  ]);
  return jobs;
}

/** What a claimed delivery needs: its destination (null when deleted) and its change. */
export interface DeliveryContext {
  row: DeliveryRow;
  destination: Destination | null;
  change: ChangeRow | null;
}

/** Reads the destinations and changes of claimed rows in one round trip. */
export async function readDeliveryContext(db: D1Database, rows: readonly DeliveryRow[]): Promise<DeliveryContext[]> {
  if (rows.length === 0) return [];
  const [destinations, changes] = await readBatch(db, [
    query<DestinationRow>(
      db
        .prepare(`SELECT * FROM destinations WHERE destination_id IN (SELECT value FROM json_each(?1))`)
        .bind(JSON.stringify([...new Set(rows.map((row) => row.destination_id))])),
    ),
    query<ChangeRow>(
      db
        .prepare(`SELECT * FROM changes WHERE sequence IN (SELECT value FROM json_each(?1))`)
        .bind(JSON.stringify(rows.map((row) => row.change_sequence))),
    ),
  ]);
  const destinationById = new Map(destinations.map((row) => [row.destination_id, toDestination(row)]));
  const changeBySequence = new Map(changes.map((change) => [change.sequence, change]));
  return rows.map((row) => ({
    row,
    destination: destinationById.get(row.destination_id) ?? null,
    change: changeBySequence.get(row.change_sequence) ?? null,
  }));
}

/** Records one HTTP attempt of a delivery. */
export function insertAttempt(db: D1Database, attempt: AttemptRow): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO clinic_delivery_attempts (delivery_id, attempt, at, http_status, latency_ms, error_class, response_excerpt)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING`,
    )
    .bind(
      attempt.delivery_id,
      attempt.attempt,
      attempt.at,
      attempt.http_status,
      attempt.latency_ms,
      attempt.error_class,
      attempt.response_excerpt,
    );
}

const RECORD = {
  delivered: DELIVERY_OUTBOX.recordSql(
    "status = 'delivered', delivered_at = ?1, last_http_status = ?4, error = NULL, next_attempt_at = NULL",
    { now: "?1", id: "?2", token: "?3" },
  ),
  failed: DELIVERY_OUTBOX.recordSql("status = 'failed', last_http_status = ?4, error = ?5", {
    now: "?1",
    id: "?2",
    token: "?3",
  }),
};

/** A final outcome of a claimed row (only while the lease holds it). */
export function recordDelivery(
  db: D1Database,
  outcome: { delivered: true } | { delivered: false; error: string },
  id: string,
  lease: Lease,
  now: string,
  httpStatus: number | null,
): D1PreparedStatement {
  return outcome.delivered
    ? db.prepare(RECORD.delivered).bind(now, id, lease.token, httpStatus)
    : db.prepare(RECORD.failed).bind(now, id, lease.token, httpStatus, outcome.error);
}

/** A retry later: the row given back with its error, its last HTTP status and when the next try is due. */
export function retryDelivery(
  db: D1Database,
  id: string,
  lease: Lease,
  retry: { error: string; now: string; retryAt: string; httpStatus: number | null },
): D1PreparedStatement[] {
  return [
    DELIVERY_OUTBOX.retryLater(db, id, retry.error, lease, retry.now, retry.retryAt, false),
    db.prepare(`UPDATE clinic_deliveries SET last_http_status = ?2 WHERE delivery_id = ?1`).bind(id, retry.httpStatus),
  ];
}

/**
 * A claimed row that waits behind its paused destination without a try, for `waitMs`: the claim did
 * not try it, so it does not count as an attempt (the row's backoff stays its own), and the wait is
 * added to the time the give-up leaves out. Put before {@link retryDelivery} in the batch (it holds
 * the lease that statement releases).
 */
export function waitBehindPause(db: D1Database, id: string, lease: Lease, waitMs: number): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE clinic_deliveries SET attempts = MAX(attempts - 1, 0), paused_ms = paused_ms + ?3
WHERE delivery_id = ?1 AND lease_token = ?2`,
    )
    .bind(id, lease.token, Math.max(0, Math.round(waitMs)));
}

/** A destination's circuit after a try: closed on success, one failure more otherwise. */
export function destinationAfterTry(
  db: D1Database,
  destinationId: string,
  result: { delivered: true; at: string } | { delivered: false; pauseAfter: number; probeAt: string },
): D1PreparedStatement {
  if (result.delivered)
    return db
      .prepare(
        `UPDATE destinations SET failure_streak = 0, state = CASE WHEN state = 'disabled' THEN state ELSE 'active' END,
  probe_at = NULL, last_success_at = ?2 WHERE destination_id = ?1`,
      )
      .bind(destinationId, result.at);
  return db
    .prepare(
      `UPDATE destinations SET failure_streak = failure_streak + 1,
  state = CASE WHEN state = 'disabled' THEN state WHEN failure_streak + 1 >= ?2 THEN 'paused' ELSE state END,
  probe_at = CASE WHEN failure_streak + 1 >= ?2 THEN ?3 ELSE probe_at END
WHERE destination_id = ?1`,
    )
    .bind(destinationId, result.pauseAfter, result.probeAt);
}

/**
 * A 410 Gone: the destination is disabled (it gets nothing until an admin enables it again) and an
 * alert opens for its clinic's staff (one open alert per destination).
 */
export function disableGoneDestination(db: D1Database, destination: Destination, now: string): D1PreparedStatement[] {
  return [
    db
      .prepare(`UPDATE destinations SET enabled = 0, state = 'disabled', updated_at = ?2 WHERE destination_id = ?1`)
      .bind(destination.destination_id, now),
    db
      .prepare(
        `INSERT INTO alerts (alert_id, rule, target_type, target_id, clinic_id, state, since, opened_at)
VALUES ('alt_' || lower(hex(randomblob(12))), 'destination_gone', 'destination', ?1, ?2, 'open', ?3, ?3)
ON CONFLICT DO NOTHING`,
      )
      .bind(destination.destination_id, destination.clinic_id, now),
  ];
}

/** A destination's deliveries in change order after `after` (a change sequence), with their attempts. */
export async function listDeliveries(
  db: D1Database,
  destinationId: string,
  filter: { status?: DeliveryStatus; after: number; limit: number },
): Promise<{ deliveries: DeliveryRow[]; attempts: AttemptRow[] }> {
  const status = filter.status ? ` AND status = ?4` : "";
  const rows = await db
    .prepare(
      `SELECT * FROM clinic_deliveries WHERE destination_id = ?1 AND change_sequence > ?2${status}
ORDER BY change_sequence LIMIT ?3`,
    )
    .bind(destinationId, filter.after, filter.limit, ...(filter.status ? [filter.status] : []))
    .all<DeliveryRow>();
  if (rows.results.length === 0) return { deliveries: [], attempts: [] };
  const attempts = await db
    .prepare(
      `SELECT * FROM clinic_delivery_attempts WHERE delivery_id IN (SELECT value FROM json_each(?1)) ORDER BY delivery_id, attempt`,
    )
    .bind(JSON.stringify(rows.results.map((row) => row.delivery_id)))
    .all<AttemptRow>();
  return { deliveries: rows.results, attempts: attempts.results };
}

/** A replay's row change: back to `pending` with no backoff and no lease; the `updated_at` placeholder follows. */
const REPLAY_UPDATE = `UPDATE clinic_deliveries SET status = 'pending', error = NULL, next_attempt_at = NULL, lease_token = NULL,
  lease_expires_at = NULL, updated_at =`;

/**
 * Replay: the destination's deliveries of one status (and a change time range), at most `limit`,
 * back to `pending` with no backoff; answers their jobs. Replaying them again re-sends them again
 * (the endpoint dedupes by `webhook-id`); a pending row stays as it is.
 */
export async function markForReplay(
  db: D1Database,
  filter: { destinationId: string; status: "delivered" | "failed"; from?: string; to?: string; limit: number },
  now: string,
): Promise<DeliveryKey[]> {
  const { results } = await db
    .prepare(
      `${REPLAY_UPDATE} ?5
WHERE delivery_id IN (
  SELECT delivery_id FROM clinic_deliveries d
  WHERE d.destination_id = ?1 AND d.status = ?2
    AND (SELECT occurred_at FROM changes WHERE sequence = d.change_sequence) BETWEEN ?3 AND ?4
  ORDER BY change_sequence LIMIT ?6)
RETURNING change_id, destination_id`,
    )
    .bind(filter.destinationId, filter.status, filter.from ?? "0000", filter.to ?? "9999", now, filter.limit)
    .all<DeliveryKey>();
  return results;
}

/** The most deliveries one replay by ids takes (a console page shows 50). */
export const MAX_REPLAY_SELECTION = 100;

/**
 * Replay by ids: those of `deliveryIds` that are the destination's and `failed` or `delivered`, back
 * to `pending` as {@link markForReplay} does; answers their jobs. Ids of another destination, unknown
 * ids and pending rows are left as they are.
 */
export async function markSelectedForReplay(
  db: D1Database,
  destinationId: string,
  deliveryIds: readonly string[],
  now: string,
): Promise<DeliveryKey[]> {
  if (deliveryIds.length === 0) return [];
  const { results } = await db
    .prepare(
      `${REPLAY_UPDATE} ?3
WHERE destination_id = ?1 AND status IN ('failed', 'delivered')
  AND delivery_id IN (SELECT value FROM json_each(?2) LIMIT ${MAX_REPLAY_SELECTION})
RETURNING change_id, destination_id`,
    )
    .bind(destinationId, JSON.stringify(deliveryIds), now)
    .all<DeliveryKey>();
  return results;
}

/** Pending rows whose job was lost or whose retry is due (the sweep); touches them. */
export async function takeStaleDeliveries(
  db: D1Database,
  staleBefore: string,
  now: string,
  limit: number,
): Promise<DeliveryKey[]> {
  return (await DELIVERY_OUTBOX.takeStale(db, staleBefore, now, limit)) as DeliveryKey[];
}

/** Marks dead-lettered jobs' rows failed (retries exhausted) where the outbox allows it. */
export function deadLetterDeliveries(db: D1Database, keys: readonly DeliveryKey[], nowMs: number): Promise<number> {
  return DELIVERY_OUTBOX.deadLetter(db, keys, nowMs);
}

/** Claims jobs' rows under `lease`. */
export function claimDeliveries(db: D1Database, keys: readonly DeliveryKey[], lease: Lease, nowMs: number) {
  return DELIVERY_OUTBOX.claim<DeliveryRow>(db, keys, lease, nowMs);
}

/**
 * Deletes up to `limit` deliveries of changes older than the feed's oldest (purged), with their
 * attempts, in one batch; answers how many deliveries went. The rows are read in insertion order,
 * which is change order, so the oldest are found first.
 */
export async function purgeDeliveriesBeforeFeed(db: D1Database, limit: number): Promise<number> {
  const old = `SELECT delivery_id FROM clinic_deliveries WHERE change_sequence < (SELECT MIN(sequence) FROM changes) LIMIT ?1`;
  const [, deliveries] = await db.batch([
    db.prepare(`DELETE FROM clinic_delivery_attempts WHERE delivery_id IN (${old})`).bind(limit),
    db.prepare(`DELETE FROM clinic_deliveries WHERE delivery_id IN (${old})`).bind(limit),
  ]);
  return deliveries?.meta.changes ?? 0;
}
