import type { EventStatus } from "./events";
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

/**
 * Moves up to `limit` events matching `filter` (oldest first, payload still kept) to `queued`, in one
 * statement: the status test in the outer WHERE is the same compare-and-set as a single replay's, so
 * concurrent re-drives take each event once. The SQL is built per filter so every variant uses an index.
 */
export async function markQueuedForBulkReplay(
  db: D1Database,
  filter: BulkReplayFilter,
  now: string,
): Promise<RequeueRow[]> {
  const conditions = ["status = ?1", "payload IS NOT NULL"];
  if (filter.type !== undefined) conditions.push("event_type = ?3");
  if (filter.receivedAfter !== undefined) conditions.push("received_at > ?4");
  if (filter.receivedBefore !== undefined) conditions.push("received_at < ?5");
  if (filter.eventIds !== undefined) conditions.push("event_id IN (SELECT value FROM json_each(?6))");
  const inScope = andInScope(filter.scope ?? ALL_CLINICS, "clinic_id", "?8");
  if (inScope.sql) conditions.push(inScope.sql.replace(" AND ", ""));
  const { results } = await db
    .prepare(
      `UPDATE events SET status = 'queued', queued_at = ?2, last_error = NULL
WHERE status = ?1 AND event_id IN (
  SELECT event_id FROM events WHERE ${conditions.join(" AND ")} ORDER BY received_at LIMIT ?7)
RETURNING event_id, payload, received_at`,
    )
    .bind(
      filter.status,
      now,
      filter.type ?? null,
      filter.receivedAfter ?? null,
      filter.receivedBefore ?? null,
      filter.eventIds === undefined ? null : JSON.stringify(filter.eventIds),
      // The highest parameter number is always used, so D1 accepts all seven values for every filter.
      filter.limit,
      ...inScope.values,
    )
    .all<RequeueRow>();
  return results;
}

/** Undoes {@link markQueuedForReplay} (or a bulk one) for events whose replay could not be enqueued. */
export async function revertReplay(db: D1Database, eventIds: readonly string[], previous: EventStatus): Promise<void> {
  await db
    .prepare(`UPDATE events SET status = ?2 WHERE event_id IN (SELECT value FROM json_each(?1)) AND status = 'queued'`)
    .bind(JSON.stringify(eventIds), previous)
    .run();
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
  SELECT event_id FROM events WHERE status = 'processing' AND lease_expires_at < ?2 AND payload IS NOT NULL
  ORDER BY lease_expires_at LIMIT ?4)
RETURNING event_id, payload, received_at`,
    )
    .bind(queuedBefore, leaseExpiredBefore, now, limit)
    .all<RequeueRow>();
  return results;
}
