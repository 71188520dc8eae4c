import type { Channel } from "../channels";
import type { EntityKind } from "../event-types";
import { ENTITY_TABLES, type WriteGuard } from "./entities";
import { notificationIdSql, notificationOfJobSql } from "./notification-keys";
import { outbox } from "./outbox";
import { type MarkedPurge, type MarkedPurgeRun, markedPurgeRun } from "./purge-mark";
import { andEventInScope, type StaffScope } from "./scope";

/** Typed SQL for the notification outbox rows: written with the state change, swept, dead-lettered, replayed, purged. */

/** One outbox row's key: an event and a channel (a send job names one). */
export interface OutboxKey {
  event_id: string;
  channel: Channel;
}

/**
 * The condition of `notifications_status_created` (migration 0176: the rows of every status but
 * 'sent'), for a query that reads that index: SQLite uses a partial index only when the query's WHERE
 * holds its condition, spelled the same, at prepare time (a status bound to a parameter, or `status = 'held'`,
 * does not imply it). `column` names the status column as the query qualifies it.
 */
export function inStatusIndex(column = "status"): string {
  return `${column} <> 'sent'`;
}

/**
 * The notifications table as an outbox (src/db/outbox.ts): a send job names its row by (event,
 * channel); `send_started_at` marks a provider call of unknown outcome (with the message, `send_attempt`);
 * a `scheduled` row is swept only once its window opened.
 */
export const NOTIFICATION_OUTBOX = outbox<"event_id" | "channel">({
  table: "notifications",
  idColumn: "notification_id",
  keyColumns: ["event_id", "channel"],
  // The derived id on the primary key, or an older row's key (migration 0186, src/db/notification-keys.ts).
  rowOfKey: (row, ref) => notificationOfJobSql(row, ref("event_id"), ref("channel")),
  openStatuses: ["pending", "scheduled"],
  unknownOutcomeColumns: ["send_started_at", "send_attempt"],
  // The open rows are in notifications_status_created, with the few others in flight (migration 0130).
  sweepCondition: `(status = 'pending' OR scheduled_for <= ?1) AND ${inStatusIndex()}`,
});

export type NotificationStatus =
  | "pending"
  | "scheduled"
  | "sent"
  | "delivered"
  | "failed"
  | "suppressed"
  | "superseded"
  | "held";

export interface OutboxIntent {
  eventId: string;
  channel: Channel;
  kind: string;
  patientId: string;
  entityKind: EntityKind;
  entityId: string;
}

/**
 * A new notification's id, made by the insert from its job key (`?1` the event, `?2` the channel):
 * `ntf_<event_id>.<channel>`, so the primary key answers the lookups by job key (migration 0186:
 * one index entry fewer per insert). Every notification insert takes its id from here.
 */
const NEW_NOTIFICATION_ID_SQL = notificationIdSql("?1", "?2");

/**
 * `created_status` of an outbox insert whose held reason is `heldReason`: 'pending' folds the first
 * status-history row into the notification row (migration 0131: no history row, two D1 rows written
 * fewer); a held row keeps NULL, so the insert trigger records its first row with the reason.
 */
const CREATED_STATUS_SQL = (heldReason: string) => `CASE WHEN ${heldReason} IS NULL THEN 'pending' END`;

/**
 * The outbox row for one intent, committed with the state change: only by the attempt whose record
 * took the event (its token, `guard.leaseOwner`), and only when the event set the entity's current
 * status — a stale event (a late `order:shipped` after delivery) notifies nobody. Unique per (event,
 * channel), so a replay adds none, and per (entity, channel, kind) (`topic`), so a second event with
 * the same status for the same entity (a later `order:shipped` with a new event_id) adds none either:
 * one message per status.
 * With `heldReason` the row starts `held` (a setting could not be read) and waits for a replay.
 */
export function insertOutboxRow(
  db: D1Database,
  intent: OutboxIntent,
  guard: WriteGuard,
  heldReason: string | null = null,
): D1PreparedStatement {
  const { table, idColumn } = ENTITY_TABLES[intent.entityKind];
  return db
    .prepare(
      `INSERT INTO notifications (notification_id, event_id, channel, kind, topic, patient_id, entity_id, status, error, created_at, updated_at,
  created_status)
SELECT ${NEW_NOTIFICATION_ID_SQL}, ?1, ?2, ?3, ?3, ?4, ?5, CASE WHEN ?8 IS NULL THEN 'pending' ELSE 'held' END, ?8, ?6, ?6,
  ${CREATED_STATUS_SQL("?8")}
WHERE EXISTS (SELECT 1 FROM events WHERE event_id = ?1 AND lease_owner = ?7)
  AND EXISTS (SELECT 1 FROM ${table} WHERE ${idColumn} = ?5 AND status_event_id = ?1)
ON CONFLICT DO NOTHING`,
    )
    .bind(
      intent.eventId,
      intent.channel,
      intent.kind,
      intent.patientId,
      intent.entityId,
      guard.now,
      guard.leaseOwner,
      heldReason,
    );
}

/**
 * A tracking update row for an order event that carried `trackingNumber`, committed with the state
 * change: written only when that number is now the order's (this event's won), the order is still
 * `shipped`, the patient already has a shipping message on this channel from another event, and no
 * message sent on this channel told this number. At most one per new number (`topic`). Whether it is
 * sent is decided at send time against what the patient was actually told (src/notify/tracking-update.ts).
 */
export function insertTrackingUpdateRow(
  db: D1Database,
  intent: Omit<OutboxIntent, "kind" | "entityKind">,
  trackingNumber: string,
  guard: WriteGuard,
  heldReason: string | null = null,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO notifications (notification_id, event_id, channel, kind, topic, patient_id, entity_id, status, error, created_at, updated_at,
  created_status)
SELECT ${NEW_NOTIFICATION_ID_SQL}, ?1, ?2, '${TRACKING_UPDATED_KIND}', '${TRACKING_UPDATED_KIND}:' || ?8, ?3, ?4,
  CASE WHEN ?7 IS NULL THEN 'pending' ELSE 'held' END, ?7, ?5, ?5, ${CREATED_STATUS_SQL("?7")}
WHERE EXISTS (SELECT 1 FROM events WHERE event_id = ?1 AND lease_owner = ?6)
  AND EXISTS (SELECT 1 FROM orders WHERE order_id = ?4 AND status = 'shipped' AND tracking_number = ?8)
  AND EXISTS (SELECT 1 FROM notifications WHERE entity_id = ?4 AND channel = ?2 AND kind = 'order_shipped' AND event_id <> ?1)
  AND NOT EXISTS (SELECT 1 FROM notifications WHERE entity_id = ?4 AND channel = ?2
    AND kind IN ('order_shipped', '${TRACKING_UPDATED_KIND}') AND status IN ('sent', 'delivered') AND told_tracking_number = ?8)
ON CONFLICT DO NOTHING`,
    )
    .bind(
      intent.eventId,
      intent.channel,
      intent.patientId,
      intent.entityId,
      guard.now,
      guard.leaseOwner,
      heldReason,
      trackingNumber,
    );
}

/** The kind of a message telling a patient their order's tracking number changed. */
export const TRACKING_UPDATED_KIND = "order_tracking_updated";

export interface NotificationRow {
  notification_id: string;
  event_id: string;
  channel: Channel;
  kind: string;
  patient_id: string;
  entity_id: string;
  status: NotificationStatus;
  provider: string | null;
  provider_message_id: string | null;
  attempts: number;
  error: string | null;
  scheduled_for: string | null;
  lease_expires_at: number | null;
  /** Set while a provider call's outcome is unknown (see migration 0007). */
  send_started_at: string | null;
  rendered: string | null;
  /** One message per (entity, channel, topic): the kind, or the tracking update's number (migration 0026). */
  topic: string | null;
  /** The tracking number the message carried (set with the send mark). */
  told_tracking_number: string | null;
  /** JSON of the message handed to the provider while its outcome is unknown (see migration 0025). */
  send_attempt: string | null;
  /** The language the message was rendered in (migration 0105); null until rendered. */
  locale: string | null;
  sent_at: string | null;
  created_at: string;
  updated_at: string;
}

/**
 * Rows the sweep should enqueue again: `pending` ones untouched since `staleBefore` (their enqueue
 * failed or was lost), and `scheduled` ones whose window opened that long ago. Touches `updated_at`
 * so the next sweep does not pick them again at once. At most `limit` rows.
 */
export async function takeStaleNotifications(
  db: D1Database,
  staleBefore: string,
  now: string,
  limit: number,
): Promise<OutboxKey[]> {
  return (await NOTIFICATION_OUTBOX.takeStale(db, staleBefore, now, limit)) as OutboxKey[];
}

/**
 * Marks dead-lettered send jobs `failed` unless they already reached a final status. A row another
 * sender holds under a live lease is left alone (that sender records the provider's answer; if it
 * dies, the lease runs out and the sweep sends the job again), and so is a row whose last provider
 * call has an unknown outcome (`send_started_at`): the provider may have accepted it, so it stays
 * `pending` for the sweep, whose retry asks the provider before sending. A message a provider
 * accepted is thereby never recorded `failed` by a dead letter. Returns how many rows it marked.
 */
export async function failDeadNotifications(db: D1Database, jobs: readonly OutboxKey[], now: number): Promise<number> {
  return NOTIFICATION_OUTBOX.deadLetter(db, jobs, now);
}

/** The statuses an operator may release with `POST /admin/notifications/replay`. */
export const REPLAYABLE_NOTIFICATION_STATUSES = ["held", "failed"] as const;

/**
 * Puts up to `limit` notifications in `status` (oldest first) back to `pending` and returns their
 * send jobs. If enqueueing them fails, the sweep finds them `pending` and enqueues them later. Only
 * notifications of `scope`'s clinics (through their events): another clinic's are left as they are.
 */
export async function reopenNotifications(
  db: D1Database,
  scope: StaffScope,
  status: (typeof REPLAYABLE_NOTIFICATION_STATUSES)[number],
  limit: number,
  now: string,
): Promise<OutboxKey[]> {
  const inScope = andEventInScope(scope, "notifications.event_id", "?4");
  const { results } = await db
    .prepare(
      `UPDATE notifications SET status = 'pending', error = NULL, lease_expires_at = NULL, lease_token = NULL, updated_at = ?3
WHERE notification_id IN (SELECT notification_id FROM notifications WHERE status = ?1 AND ${inStatusIndex()}${inScope.sql}
  ORDER BY created_at LIMIT ?2)
RETURNING event_id, channel`,
    )
    .bind(status, limit, now, ...inScope.values)
    .all<OutboxKey>();
  return results;
}

/**
 * Puts one held notification, or one suppressed or waiting for a reason in `sendableSuppressions`
 * (the caps and their expiry),
 * back to `pending` and returns its send job; null when it is not (or no longer) in such a state or
 * outside the scope. The sender then decides it afresh: consent, caps, quiet hours and the provider
 * are all checked again, so sending by hand never skips a rule.
 */
export async function reopenNotification(
  db: D1Database,
  scope: StaffScope,
  notificationId: string,
  sendableSuppressions: readonly string[],
  now: string,
): Promise<OutboxKey | null> {
  const inScope = andEventInScope(scope, "notifications.event_id", "?4");
  return db
    .prepare(
      `UPDATE notifications SET status = 'pending', error = NULL, lease_expires_at = NULL, lease_token = NULL, updated_at = ?2
WHERE notification_id = ?1
  AND (status = 'held' OR (status IN ('suppressed', 'scheduled') AND error IN (SELECT value FROM json_each(?3))))${inScope.sql}
RETURNING event_id, channel`,
    )
    .bind(notificationId, now, JSON.stringify(sendableSuppressions), ...inScope.values)
    .first<OutboxKey>();
}

/**
 * One run of the purge of rendered message bodies (and the exact attempt kept with them) of
 * notifications created before `cutoff`, `chunk` rows per call: from a mark on notifications_created
 * ({@link markedPurgeRun}, migration 0162), not an index of the rows with a text, whose entry every
 * send mark wrote. A text written below the mark (a held or scheduled message sent late) moves the
 * mark down to its row (the trigger of migration 0162).
 */
export function renderedPurgeRun(
  db: D1Database,
  window: { cutoff: string; now: string; chunk: number },
): MarkedPurgeRun {
  return markedPurgeRun(db, RENDERED_PURGE, window);
}

const RENDERED_PURGE: MarkedPurge = {
  mark: "notifications.rendered",
  table: "notifications",
  idColumn: "notification_id",
  timeColumn: "created_at",
  set: "rendered = NULL, send_attempt = NULL",
  purgeable: "rendered IS NOT NULL",
};
