import { z } from "zod";
import { CHANNELS, type Channel } from "../config/notifications";
import type { EntityKind } from "../event-types";
import { type Query, query, readBatch, readBatchThen } from "./batch";
import type { WriteGuard } from "./entities";
import { ENTITY_TABLES } from "./entities";
import { namedParameters } from "./parameters";
import { andEventInScope, type StaffScope } from "./scope";

/** Typed SQL for the notification outbox. */

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
 * The outbox row for one intent, committed with the state change: only while the event's lease is
 * held, and only when the event set the entity's current status — a stale event (a late
 * `order:shipped` after delivery) notifies nobody. Unique per (event, channel), so a replay adds none,
 * and per (entity, channel, kind) (`topic`), so a second event with the same status for the same
 * entity (a later `order:shipped` with a new event_id) adds none either: one message per status.
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
      `INSERT INTO notifications (notification_id, event_id, channel, kind, topic, patient_id, entity_id, status, error, created_at, updated_at)
SELECT 'ntf_' || lower(hex(randomblob(12))), ?1, ?2, ?3, ?3, ?4, ?5, CASE WHEN ?8 IS NULL THEN 'pending' ELSE 'held' END, ?8, ?6, ?6
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
      `INSERT INTO notifications (notification_id, event_id, channel, kind, topic, patient_id, entity_id, status, error, created_at, updated_at)
SELECT 'ntf_' || lower(hex(randomblob(12))), ?1, ?2, '${TRACKING_UPDATED_KIND}', '${TRACKING_UPDATED_KIND}:' || ?8, ?3, ?4,
  CASE WHEN ?7 IS NULL THEN 'pending' ELSE 'held' END, ?7, ?5, ?5
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
  sent_at: string | null;
  created_at: string;
  updated_at: string;
}

const sendJobSchema = z.object({ event_id: z.string(), channel: z.enum(CHANNELS) });

/** A send job: the queue message body of `patient-notifications`, naming one outbox row. */
export type SendJob = z.infer<typeof sendJobSchema>;

/** A queue message body as a send job (extra fields dropped), or null when it is not one. */
export function readSendJob(body: unknown): SendJob | null {
  const parsed = sendJobSchema.safeParse(body);
  return parsed.success ? parsed.data : null;
}

/** A sender's hold on the rows it claimed: until `expiresAt` (epoch ms), proven by `token`. */
export interface SendLease {
  token: string;
  expiresAt: number;
}

const CLAIM = namedParameters(["event_id", "channel", "lease_expires_at", "now_ms", "now", "lease_token"] as const);

const CLAIM_SQL = `UPDATE notifications SET lease_token = ${CLAIM.ref("lease_token")},
  lease_expires_at = ${CLAIM.ref("lease_expires_at")}, attempts = attempts + 1, updated_at = ${CLAIM.ref("now")}
WHERE event_id = ${CLAIM.ref("event_id")} AND channel = ${CLAIM.ref("channel")} AND status IN ('pending', 'scheduled')
  AND (lease_expires_at IS NULL OR lease_expires_at <= ${CLAIM.ref("now_ms")} OR lease_token = ${CLAIM.ref("lease_token")})
RETURNING *`;

/** A job's row that another sender holds: retried once that lease has run out. */
export interface LeasedElsewhere {
  event_id: string;
  channel: Channel;
  lease_expires_at: number;
}

/**
 * Claims send jobs in one round trip: each row still `pending` or `scheduled` and not leased by
 * another sender gets our lease (a row already holding our token is ours again, so a claim repeated
 * after a lost answer gets its rows back). Also returns the rows of these
 * jobs still held under someone else's live lease; every other job is done, or never had a row (its
 * event was stale).
 */
export async function claimNotifications(
  db: D1Database,
  jobs: readonly SendJob[],
  lease: SendLease,
  now: number,
): Promise<{ claimed: NotificationRow[]; leasedElsewhere: LeasedElsewhere[] }> {
  if (jobs.length === 0) return { claimed: [], leasedElsewhere: [] };
  const claim = db.prepare(CLAIM_SQL);
  const iso = new Date(now).toISOString();
  const { rows, last: leasedElsewhere } = await readBatchThen(
    db,
    jobs.map((job) =>
      query<NotificationRow>(
        claim.bind(
          ...CLAIM.bind({
            event_id: job.event_id,
            channel: job.channel,
            lease_expires_at: lease.expiresAt,
            now_ms: now,
            now: iso,
            lease_token: lease.token,
          }),
        ),
      ),
    ),
    query<LeasedElsewhere>(
      db
        .prepare(
          `SELECT event_id, channel, lease_expires_at FROM notifications
WHERE event_id IN (SELECT value FROM json_each(?1)) AND status IN ('pending', 'scheduled') AND lease_expires_at > ?2 AND lease_token <> ?3`,
        )
        .bind(JSON.stringify(jobs.map((job) => job.event_id)), now, lease.token),
    ),
  );
  return { claimed: rows.flat(), leasedElsewhere };
}

/** Gives up every row held with this lease (after a claim whose answer was lost). */
export async function releaseNotificationLeases(db: D1Database, lease: SendLease): Promise<void> {
  await db
    .prepare(`UPDATE notifications SET lease_expires_at = NULL, lease_token = NULL WHERE lease_token = ?1`)
    .bind(lease.token)
    .run();
}

export interface Outcome {
  notificationId: string;
  status: NotificationStatus;
  provider?: string | null;
  providerMessageId?: string | null;
  error?: string | null;
  rendered?: string | null;
  scheduledFor?: string | null;
  sentAt?: string | null;
}

const OUTCOME = namedParameters([
  "notification_id",
  "status",
  "provider",
  "provider_message_id",
  "error",
  "rendered",
  "scheduled_for",
  "sent_at",
  "now",
  "lease_token",
] as const);

// What an outcome leaves unsaid (null) keeps the stored value, except `error` and `scheduled_for`,
// which describe only the latest attempt. A row that waits (`scheduled`, or `held` until a replay)
// keeps the mark of an earlier attempt of unknown outcome, so its eventual send looks it up first. A delivery report may have moved the row on while we held
// it (it carries our notification id): our `sent` never overwrites the status a report set. The lease
// token stays, so repeating a write whose answer was lost still reports one changed row; `changes = 0`
// means another sender took the row over.
const RECORD_OUTCOME_SQL = `UPDATE notifications SET status = CASE
    WHEN ${OUTCOME.ref("status")} = 'sent' AND status IN ('sent', 'delivered', 'failed') THEN status
    ELSE ${OUTCOME.ref("status")} END,
  provider = COALESCE(${OUTCOME.ref("provider")}, provider),
  provider_message_id = COALESCE(${OUTCOME.ref("provider_message_id")}, provider_message_id),
  error = ${OUTCOME.ref("error")},
  rendered = COALESCE(${OUTCOME.ref("rendered")}, rendered),
  scheduled_for = ${OUTCOME.ref("scheduled_for")},
  sent_at = COALESCE(${OUTCOME.ref("sent_at")}, sent_at),
  send_started_at = CASE WHEN ${OUTCOME.ref("status")} IN ('scheduled', 'held') THEN send_started_at END,
  send_attempt = CASE WHEN ${OUTCOME.ref("status")} IN ('scheduled', 'held') THEN send_attempt END,
  lease_expires_at = NULL, updated_at = ${OUTCOME.ref("now")}
WHERE notification_id = ${OUTCOME.ref("notification_id")} AND lease_token = ${OUTCOME.ref("lease_token")}`;

/** Records a send outcome and releases the lease, only if our lease still holds the row. */
export function recordOutcome(db: D1Database, outcome: Outcome, lease: SendLease, now: string): D1PreparedStatement {
  return db.prepare(RECORD_OUTCOME_SQL).bind(
    ...OUTCOME.bind({
      notification_id: outcome.notificationId,
      status: outcome.status,
      provider: outcome.provider ?? null,
      provider_message_id: outcome.providerMessageId ?? null,
      error: outcome.error ?? null,
      rendered: outcome.rendered ?? null,
      scheduled_for: outcome.scheduledFor ?? null,
      sent_at: outcome.sentAt ?? null,
      now,
      lease_token: lease.token,
    }),
  );
}

/**
 * Releases a lease without changing the status (a failure that will retry), noting when the retry is
 * due so the sweep leaves the row alone until then. An `unknown` outcome keeps `send_started_at`, so
 * the retry asks the provider first; a definite failure clears it.
 */
export function releaseNotification(
  db: D1Database,
  notificationId: string,
  error: string,
  lease: SendLease,
  now: string,
  retryAt: string,
  outcomeUnknown = false,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE notifications SET lease_expires_at = NULL, lease_token = NULL, error = ?2, updated_at = ?3,
  next_attempt_at = ?5, send_started_at = CASE WHEN ?6 THEN send_started_at END,
  send_attempt = CASE WHEN ?6 THEN send_attempt END
WHERE notification_id = ?1 AND lease_token = ?4`,
    )
    .bind(notificationId, error, now, lease.token, retryAt, outcomeUnknown ? 1 : 0);
}

/**
 * Marks that a provider is about to be called for this row, with the exact text it will get
 * (`rendered`, shown to staff) and the exact message, destination included (`send_attempt`): if the
 * answer is then lost, the next sender looks that message up, or repeats it, before sending anything
 * else. Keeps the earliest start (the lookup searches from that day). Only while our lease holds
 * (`changes = 1`).
 */
export function markSendStarted(
  db: D1Database,
  notificationId: string,
  rendered: string,
  attempt: string,
  toldTrackingNumber: string | null,
  lease: SendLease,
  now: string,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE notifications SET send_started_at = COALESCE(send_started_at, ?3), rendered = ?2, send_attempt = ?5,
  told_tracking_number = ?6, updated_at = ?3
WHERE notification_id = ?1 AND lease_token = ?4`,
    )
    .bind(notificationId, rendered, now, lease.token, attempt, toldTrackingNumber);
}

/** The notifications of one event, for the admin event view. */
export async function notificationsForEvent(db: D1Database, eventId: string): Promise<NotificationRow[]> {
  const { results } = await db
    .prepare(`SELECT * FROM notifications WHERE event_id = ?1 ORDER BY channel`)
    .bind(eventId)
    .all<NotificationRow>();
  return results;
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
): Promise<SendJob[]> {
  const { results } = await db
    .prepare(
      `UPDATE notifications SET updated_at = ?2
WHERE notification_id IN (
  SELECT notification_id FROM notifications
  WHERE status IN ('pending', 'scheduled') AND updated_at < ?1
    AND (status = 'pending' OR scheduled_for <= ?1)
    AND (lease_expires_at IS NULL OR lease_expires_at < ?4)
    AND (next_attempt_at IS NULL OR next_attempt_at < ?1)
  LIMIT ?3)
RETURNING event_id, channel`,
    )
    .bind(staleBefore, now, limit, Date.parse(now))
    .all<SendJob>();
  return results;
}

/**
 * Marks dead-lettered send jobs `failed` unless they already reached a final status. A row another
 * sender holds under a live lease is left alone (that sender records the provider's answer; if it
 * dies, the lease runs out and the sweep sends the job again), and so is a row whose last provider
 * call has an unknown outcome (`send_started_at`): the provider may have accepted it, so it stays
 * `pending` for the sweep, whose retry asks the provider before sending. A message a provider
 * accepted is thereby never recorded `failed` by a dead letter. Returns how many rows it marked.
 */
export async function failDeadNotifications(db: D1Database, jobs: readonly SendJob[], now: number): Promise<number> {
  if (jobs.length === 0) return 0;
  const statement = db.prepare(
    `UPDATE notifications SET status = 'failed', error = COALESCE(error, 'retries exhausted'), lease_expires_at = NULL, updated_at = ?3
WHERE event_id = ?1 AND channel = ?2 AND status IN ('pending', 'scheduled')
  AND (lease_expires_at IS NULL OR lease_expires_at <= ?4) AND send_started_at IS NULL`,
  );
  const iso = new Date(now).toISOString();
  const results = await db.batch(jobs.map((job) => statement.bind(job.event_id, job.channel, iso, now)));
  return results.reduce((sum, result) => sum + (result.meta.changes ?? 0), 0);
}

/** A Twilio delivery report, by our notification id (from the callback URL) and Twilio's message SID. */
export interface DeliveryReport {
  notificationId: string | null;
  providerMessageId: string;
  status: "sent" | "delivered" | "failed";
  error: string | null;
}

/**
 * Applies a delivery report. Statuses only move forward: pending/scheduled < sent < delivered or
 * failed. A report applies only when it ranks above the row's status, so a late `sent` never
 * overwrites `delivered`, and once one final report (`delivered`, or `failed` for Twilio's
 * `undelivered`/`failed`) is recorded the other never replaces it: the first final report wins. A
 * report that arrives before the sender recorded its outcome (matched by notification id) records the
 * send itself: status, SID, provider and time. Returns the row when the report changed it.
 */
export async function applyDeliveryReport(
  db: D1Database,
  report: DeliveryReport,
  now: string,
): Promise<NotificationRow | null> {
  return db
    .prepare(
      `UPDATE notifications SET status = ?3, error = COALESCE(?4, error), updated_at = ?5,
  provider = COALESCE(provider, 'twilio'), provider_message_id = COALESCE(provider_message_id, ?2),
  sent_at = COALESCE(sent_at, ?5), send_started_at = NULL, send_attempt = NULL
WHERE (notification_id = ?1 OR (?1 IS NULL AND provider_message_id = ?2)) AND channel = 'sms'
  AND (provider_message_id IS NULL OR provider_message_id = ?2)
  AND (CASE status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'failed' THEN 2 ELSE 0 END)
    < (CASE ?3 WHEN 'sent' THEN 1 ELSE 2 END)
RETURNING *`,
    )
    .bind(report.notificationId, report.providerMessageId, report.status, report.error, now)
    .first<NotificationRow>();
}

export interface NotificationStats {
  total: number;
  by_status: Partial<Record<NotificationStatus, number>>;
  /** Held notifications by reason (a variable name and its problem), so staff know what to fix. */
  held_by_reason: Record<string, number>;
}

/** Counts by status, and the held ones by reason, in one round trip. */
export async function notificationStats(db: D1Database, scope: StaffScope): Promise<NotificationStats> {
  const inScope = andEventInScope(scope, "event_id", "?1");
  const [statusRows, held] = await readBatch(db, [
    query<{ key: string; count: number }>(
      db
        .prepare(`SELECT status AS key, COUNT(*) AS count FROM notifications WHERE 1${inScope.sql} GROUP BY status`)
        .bind(...inScope.values),
    ),
    query<{ key: string; count: number }>(
      db
        .prepare(
          `SELECT COALESCE(error, 'unknown') AS key, COUNT(*) AS count FROM notifications WHERE status = 'held'${inScope.sql} GROUP BY error`,
        )
        .bind(...inScope.values),
    ),
  ]);
  return {
    total: statusRows.reduce((sum, row) => sum + row.count, 0),
    by_status: Object.fromEntries(statusRows.map((row) => [row.key, row.count])),
    held_by_reason: Object.fromEntries(held.map((row) => [row.key, row.count])),
  };
}

/** The statuses an operator may release with `POST /admin/notifications/replay`. */
export const REPLAYABLE_NOTIFICATION_STATUSES = ["held", "failed"] as const;

/**
 * Puts up to `limit` notifications in `status` (oldest first) back to `pending` and returns their
 * send jobs. If enqueueing them fails, the sweep finds them `pending` and enqueues them later.
 */
export async function reopenNotifications(
  db: D1Database,
  status: (typeof REPLAYABLE_NOTIFICATION_STATUSES)[number],
  limit: number,
  now: string,
): Promise<SendJob[]> {
  const { results } = await db
    .prepare(
      `UPDATE notifications SET status = 'pending', error = NULL, lease_expires_at = NULL, lease_token = NULL, updated_at = ?3
WHERE notification_id IN (SELECT notification_id FROM notifications WHERE status = ?1 ORDER BY created_at LIMIT ?2)
RETURNING event_id, channel`,
    )
    .bind(status, limit, now)
    .all<SendJob>();
  return results;
}

/** Removes rendered message bodies of notifications created before `cutoff`, at most `chunk` rows. */
export async function purgeRenderedMessages(db: D1Database, cutoff: string, chunk: number): Promise<number> {
  const result = await db
    .prepare(
      `UPDATE notifications SET rendered = NULL, send_attempt = NULL
WHERE notification_id IN (SELECT notification_id FROM notifications WHERE rendered IS NOT NULL AND created_at < ?1 LIMIT ?2)`,
    )
    .bind(cutoff, chunk)
    .run();
  return result.meta.changes ?? 0;
}

/** An entity's current status and the event that set it. */
export interface CurrentStatus {
  entity_id: string;
  status: string;
  status_event_id: string;
}

/** The current status of some entities of one kind, in one statement (read at send time). */
export function selectCurrentStatuses(
  db: D1Database,
  kind: EntityKind,
  entityIds: readonly string[],
): Query<CurrentStatus> {
  const { table, idColumn } = ENTITY_TABLES[kind];
  return db
    .prepare(
      `SELECT ${idColumn} AS entity_id, status, status_event_id FROM ${table} WHERE ${idColumn} IN (SELECT value FROM json_each(?1))`,
    )
    .bind(JSON.stringify(entityIds));
}

/** A message about an order's shipment: a shipping message or a tracking update. */
export interface ShipmentMessage {
  notification_id: string;
  kind: string;
  entity_id: string;
  channel: Channel;
  status: NotificationStatus;
  told_tracking_number: string | null;
  send_started_at: string | null;
  sent_at: string | null;
}

/** The shipping messages and tracking updates of some orders, in one statement (read at send time). */
export function selectShipmentMessages(db: D1Database, orderIds: readonly string[]): Query<ShipmentMessage> {
  return db
    .prepare(
      `SELECT notification_id, kind, entity_id, channel, status, told_tracking_number, send_started_at, sent_at FROM notifications
WHERE entity_id IN (SELECT value FROM json_each(?1)) AND kind IN ('order_shipped', '${TRACKING_UPDATED_KIND}')`,
    )
    .bind(JSON.stringify(orderIds));
}

/** A notification sent to a patient (for the daily cap). */
export interface RecentSend {
  patient_id: string;
  channel: Channel;
  sent_at: string;
}

/** The sends to some patients since `since` (ISO), in one statement. */
export function selectRecentSends(db: D1Database, patientIds: readonly string[], since: string): Query<RecentSend> {
  return db
    .prepare(
      `SELECT patient_id, channel, sent_at FROM notifications
WHERE patient_id IN (SELECT value FROM json_each(?1)) AND sent_at >= ?2`,
    )
    .bind(JSON.stringify(patientIds), since);
}

/** One status a notification took, with its time. */
export interface StatusChange {
  status: NotificationStatus;
  at: string;
  error: string | null;
  provider_message_id: string | null;
}

/** One notification and its status history (oldest first), or null when unknown. One round trip. */
export async function notificationWithHistory(
  db: D1Database,
  scope: StaffScope,
  notificationId: string,
): Promise<{ row: NotificationRow; history: StatusChange[] } | null> {
  const inScope = andEventInScope(scope, "event_id", "?2");
  const [rows, history] = await readBatch(db, [
    query<NotificationRow>(
      db
        .prepare(`SELECT * FROM notifications WHERE notification_id = ?1${inScope.sql}`)
        .bind(notificationId, ...inScope.values),
    ),
    query<StatusChange>(
      db
        .prepare(
          `SELECT status, at, error, provider_message_id FROM notification_status_history WHERE notification_id = ?1 ORDER BY rowid`,
        )
        .bind(notificationId),
    ),
  ]);
  const row = rows[0];
  return row ? { row, history } : null;
}
