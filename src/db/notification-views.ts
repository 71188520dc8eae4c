import { query, readBatch } from "./batch";
import { notificationsOfEventSql } from "./notification-keys";
import { inStatusIndex, type NotificationRow, type NotificationStatus } from "./notification-outbox";
import { andEventInScope, andInScope, type StaffScope } from "./scope";

/** Typed SQL for reading notifications: an event's rows, the counts, one row with its status history. */

/** The notifications of one event, for the admin event view. */
export async function notificationsForEvent(db: D1Database, eventId: string): Promise<NotificationRow[]> {
  const { results } = await db
    .prepare(`SELECT * FROM notifications WHERE ${notificationsOfEventSql("", "?1")} ORDER BY channel`)
    .bind(eventId)
    .all<NotificationRow>();
  return results;
}

/** One notification's outcome, for the events list's column. */
export interface NotificationOutcome {
  event_id: string;
  channel: NotificationRow["channel"];
  status: NotificationStatus;
  error: string | null;
}

/** The notifications of a page of events (ids already read through the scope), in one query. */
export async function notificationOutcomesOf(
  db: D1Database,
  eventIds: readonly string[],
): Promise<NotificationOutcome[]> {
  if (eventIds.length === 0) return [];
  const { results } = await db
    .prepare(
      `SELECT n.event_id, n.channel, n.status, n.error FROM json_each(?1) AS e
JOIN notifications AS n ON ${notificationsOfEventSql("n.", "e.value")} ORDER BY n.channel`,
    )
    .bind(JSON.stringify(eventIds))
    .all<NotificationOutcome>();
  return results;
}

export interface NotificationStats {
  total: number;
  by_status: Partial<Record<NotificationStatus, number>>;
  /** Held notifications by reason (a variable name and its problem), so staff know what to fix. */
  held_by_reason: Record<string, number>;
  /** Suppressed notifications by reason (e.g. `daily_cap`, `sms not opted in`). */
  suppressed_by_reason: Record<string, number>;
}

/**
 * The count of every notification in scope: of the whole table, or of the scope's clinics' events'
 * notifications, found from each event on the primary key or the older rows' index (migration 0186).
 */
function totalStatement(db: D1Database, scope: StaffScope): D1PreparedStatement {
  const inScope = andInScope(scope, "e.clinic_id", "?1");
  const sql = inScope.sql
    ? `SELECT COUNT(*) AS count FROM events e JOIN notifications n ON ${notificationsOfEventSql("n.", "e.event_id")}
WHERE 1${inScope.sql}`
    : "SELECT COUNT(*) AS count FROM notifications";
  return db.prepare(sql).bind(...inScope.values);
}

/**
 * Counts by status, and the held and suppressed ones by reason, in one round trip. The sent rows are
 * not in `notifications_status_created` (migration 0176): they are all the rows (counted on a covering
 * index) less the rows of every other status (counted on that one). One batch is one transaction, so
 * both counts see the same rows.
 */
export async function notificationStats(db: D1Database, scope: StaffScope): Promise<NotificationStats> {
  const inScope = andEventInScope(scope, "notifications.event_id", "?1");
  const counted = `${inStatusIndex()}${inScope.sql}`;
  const byReason = (status: "held" | "suppressed") =>
    query<{ key: string; count: number }>(
      db
        .prepare(
          `SELECT COALESCE(error, 'unknown') AS key, COUNT(*) AS count FROM notifications WHERE status = '${status}' AND ${counted} GROUP BY error`,
        )
        .bind(...inScope.values),
    );
  const [totalRows, statusRows, held, suppressed] = await readBatch(db, [
    query<{ count: number }>(totalStatement(db, scope)),
    query<{ key: string; count: number }>(
      db
        .prepare(`SELECT status AS key, COUNT(*) AS count FROM notifications WHERE ${counted} GROUP BY status`)
        .bind(...inScope.values),
    ),
    byReason("held"),
    byReason("suppressed"),
  ]);
  const total = totalRows[0]?.count ?? 0;
  const sent = total - statusRows.reduce((sum, row) => sum + row.count, 0);
  // Only the statuses some row has, as a GROUP BY over every row answered.
  const counts = [
    ...statusRows.map((row): [string, number] => [row.key, row.count]),
    ["sent", sent] as [string, number],
  ]
    .filter(([, count]) => count > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    total,
    by_status: Object.fromEntries(counts),
    held_by_reason: Object.fromEntries(held.map((row) => [row.key, row.count])),
    suppressed_by_reason: Object.fromEntries(suppressed.map((row) => [row.key, row.count])),
  };
}

/** One status a notification took, with its time. */
export interface StatusChange {
  status: NotificationStatus;
  at: string;
  error: string | null;
  provider_message_id: string | null;
}

/**
 * Status-history rows of the notifications matching `idCondition` (SQL after `notification_id`), each
 * with `seq` (its order within its notification): the first row folded into the notification row
 * (`created_status`, migration 0131) as 0, then the rows the triggers stored, by their `seq` (1, 2, ...
 * in the order they were written, migration 0175; the rowid before it), then the current status from
 * the row when it is `sent` or `superseded` and not stored (migration 0185: those are stored only once
 * left; `status_at` is when the row entered it). Every reader of the history reads it through this, so
 * neither the folded row nor the current one is missed.
 */
export function statusHistorySql(idCondition: string): string {
  return `SELECT notification_id, created_status AS status, created_at AS at, NULL AS error, NULL AS provider_message_id, 0 AS seq
  FROM notifications WHERE notification_id ${idCondition} AND created_status IS NOT NULL
UNION ALL
SELECT notification_id, status, at, error, provider_message_id, seq
  FROM notification_status_history WHERE notification_id ${idCondition}
UNION ALL
SELECT notification_id, status, status_at AS at, error, provider_message_id, ${CURRENT_SEQ} AS seq
  FROM notifications AS n WHERE notification_id ${idCondition}
  AND status IN ('sent', 'superseded') AND status_at IS NOT NULL
  AND (SELECT h.status FROM notification_status_history AS h WHERE h.notification_id = n.notification_id
       ORDER BY h.seq DESC LIMIT 1) IS NOT status`;
}

/** The `seq` of the current status read from the row: after every stored one. */
const CURRENT_SEQ = 2_147_483_647;

/** One notification and its status history (oldest first), or null when unknown. One round trip. */
export async function notificationWithHistory(
  db: D1Database,
  scope: StaffScope,
  notificationId: string,
): Promise<{ row: NotificationRow; history: StatusChange[] } | null> {
  const inScope = andEventInScope(scope, "notifications.event_id", "?2");
  const [rows, history] = await readBatch(db, [
    query<NotificationRow>(
      db
        .prepare(`SELECT * FROM notifications WHERE notification_id = ?1${inScope.sql}`)
        .bind(notificationId, ...inScope.values),
    ),
    query<StatusChange>(
      db
        .prepare(`SELECT status, at, error, provider_message_id FROM (${statusHistorySql("= ?1")}) ORDER BY seq`)
        .bind(notificationId),
    ),
  ]);
  const row = rows[0];
  return row ? { row, history } : null;
}
