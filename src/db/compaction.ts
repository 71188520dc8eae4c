/**
 * Compaction of old final rows, so D1 stays under its 10 GB limit at high volume (see
 * bench/README.md "Storage"). Only rows nothing will touch again are deleted: events that ended
 * `processed`, `ignored` or `invalid` (never `dead`, `failed`, `queued` or `processing`, which a
 * retry or a replay still needs), and notifications that ended `sent`, `delivered`, `suppressed` or
 * `superseded` (never `held` or `failed`, which an operator may replay, nor anything pending).
 */

/** Deletes up to `chunk` final events received before `cutoff` (ISO 8601); returns how many. */
export async function deleteFinalEvents(db: D1Database, cutoff: string, chunk: number): Promise<number> {
  const result = await db
    .prepare(
      `DELETE FROM events WHERE event_id IN (
  SELECT event_id FROM events
  WHERE status IN ('processed', 'ignored', 'invalid') AND received_at < ?1
  LIMIT ?2)`,
    )
    .bind(cutoff, chunk)
    .run();
  return result.meta.changes ?? 0;
}

/** Deletes up to `chunk` final notifications created before `cutoff` (ISO 8601); returns how many. */
export async function deleteFinalNotifications(db: D1Database, cutoff: string, chunk: number): Promise<number> {
  const result = await db
    .prepare(
      `DELETE FROM notifications WHERE notification_id IN (
  SELECT notification_id FROM notifications
  WHERE status IN ('sent', 'delivered', 'suppressed', 'superseded') AND created_at < ?1
  LIMIT ?2)`,
    )
    .bind(cutoff, chunk)
    .run();
  return result.meta.changes ?? 0;
}
