import { CHANNELS } from "../channels";

/**
 * How a notification is found by its send job's key, (event_id, channel) (migration 0186). A row
 * written since has the id derived from that key, so the primary key answers; a row written before
 * has a random id ('ntf_' and 24 hex digits, never with a '.'), and the partial unique index
 * `notifications_event_channel` holds those rows by (event_id, channel). A lookup asks both, and the
 * planner answers each half on its own index (a MULTI-INDEX OR: test/db/query-plans.test.ts) only
 * while the older rows' condition is spelled exactly as the index's, which {@link olderRowSql} does.
 * SQL builders: `row` is a table alias with its dot ("n.") or "", the other arguments SQL expressions.
 */

/** The id of the notification of (event, channel), as SQL: `'ntf_' || event || '.' || channel`. */
export function notificationIdSql(event: string, channel: string): string {
  return `'ntf_' || ${event} || '.' || ${channel}`;
}

/** A row written before migration 0186 (its id is not its key's): the condition of `notifications_event_channel`. */
function olderRowSql(row: string): string {
  return `${row}notification_id <> ${notificationIdSql(`${row}event_id`, `${row}channel`)}`;
}

/** The notification row of one send job: its derived id, or an older row with that key. */
export function notificationOfJobSql(row: string, event: string, channel: string): string {
  return `(${row}notification_id = ${notificationIdSql(event, channel)}
    OR (${row}event_id = ${event} AND ${row}channel = ${channel} AND ${olderRowSql(row)}))`;
}

/** The notification rows of one event, on any channel. */
export function notificationsOfEventSql(row: string, event: string): string {
  const ids = CHANNELS.map((channel) => notificationIdSql(event, `'${channel}'`)).join(", ");
  return `(${row}notification_id IN (${ids}) OR (${row}event_id = ${event} AND ${olderRowSql(row)}))`;
}
