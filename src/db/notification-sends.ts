import type { Channel } from "../channels";
import type { EntityKind } from "../event-types";
import type { Query } from "./batch";
import { ENTITY_TABLES } from "./entities";
import {
  NOTIFICATION_OUTBOX,
  type NotificationRow,
  type NotificationStatus,
  type OutboxKey,
  TRACKING_UPDATED_KIND,
} from "./notification-outbox";
import { type Lease, TAKING_PARAMETERS, type Taking, takingRef, takingValues } from "./outbox";
import { namedParameters } from "./parameters";

/** Typed SQL for the sender: reads taken by their first write, outcomes recorded once, delivery reports, send-time reads. */

/** A sender's hold on the rows it took (the outbox machinery's lease). */
export type SendLease = Lease;

/** A job's row that another sender holds: retried once that lease has run out. */
export interface LeasedElsewhere {
  event_id: string;
  channel: Channel;
  lease_expires_at: number;
}

/** A notification row as the sender read it, with the lease that took it last (see {@link Taking}). */
export type RowRead = NotificationRow & { lease_token: string | null };

/**
 * Reads send jobs' rows in one statement, without writing: each row still `pending` or `scheduled`
 * that no other sender holds under a live lease (`free`, taken by its first write: the send mark, an
 * outcome or a give-back, each guarded by the `attempts` and `lease_token` read here), and those
 * another sender holds (`leasedElsewhere`). Every other job is done, or never had a row (its event
 * was stale). Until issue 26.2 the sender claimed the rows with a write of their own, one D1 row per
 * notification.
 */
export async function readNotifications(
  db: D1Database,
  jobs: readonly OutboxKey[],
  now: number,
): Promise<{ free: RowRead[]; leasedElsewhere: LeasedElsewhere[] }> {
  const { free, leasedElsewhere } = await NOTIFICATION_OUTBOX.read<RowRead>(db, jobs, now);
  return { free, leasedElsewhere: leasedElsewhere as LeasedElsewhere[] };
}

/** How a sender write takes a row it read (no other sender took it since): see {@link readNotifications}. */
export type { Taking } from "./outbox";

export interface Outcome {
  notificationId: string;
  status: NotificationStatus;
  provider?: string | null;
  providerMessageId?: string | null;
  error?: string | null;
  rendered?: string | null;
  scheduledFor?: string | null;
  sentAt?: string | null;
  /**
   * The message was found at the provider after an answer was lost (`recovered`), not sent by this
   * write's own call: recorded only while no other notification records it (see {@link ADOPTION_GUARD}).
   */
  adopted?: boolean;
}

const OUTCOME_NAMES = [
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
] as const;
const OUTCOME = namedParameters(OUTCOME_NAMES);
/** An outcome that also takes the row it read ({@link Taking}): the same values and three more. */
const OUTCOME_TAKING = namedParameters([...OUTCOME_NAMES, ...TAKING_PARAMETERS] as const);

// What an outcome leaves unsaid (null) keeps the stored value, except `error` and `scheduled_for`,
// which describe only the latest attempt. A row that waits (`scheduled`, or `held` until a replay)
// keeps the mark of an earlier attempt of unknown outcome, so its eventual send looks it up first. A delivery report may have moved the row on while we held
// it (it carries our notification id): our `sent` never overwrites the status a report set. The lease
// token stays, so repeating a write whose answer was lost still reports one changed row; `changes = 0`
// means another sender took the row over.

/**
 * The outcome's SET. A new status sets `status_at`, when the row entered it: a row that ends `sent`
 * or `superseded` stores no history row for it (migration 0185), the history reads it from the row.
 * `rendered` is assigned only when the outcome carries a text: a SET of the column
 * re-adds its purge index entry (notifications_rendered) even when the value is unchanged, and after a
 * send the text is already the one the send mark stored under this lease (issue 26.2: one D1 row
 * written fewer per message sent). Left out, it keeps the stored value, as COALESCE(NULL, rendered) did.
 */
function outcomeSet(setsRendered: boolean): string {
  const status = `CASE
    WHEN ${OUTCOME.ref("status")} = 'sent' AND status IN ('sent', 'delivered', 'failed') THEN status
    ELSE ${OUTCOME.ref("status")} END`;
  return `status = ${status},
  status_at = CASE WHEN ${status} IS NOT status THEN ${OUTCOME.ref("now")} ELSE status_at END,
  provider = COALESCE(${OUTCOME.ref("provider")}, provider),
  provider_message_id = COALESCE(${OUTCOME.ref("provider_message_id")}, provider_message_id),
  error = ${OUTCOME.ref("error")},${setsRendered ? `\n  rendered = COALESCE(${OUTCOME.ref("rendered")}, rendered),` : ""}
  scheduled_for = ${OUTCOME.ref("scheduled_for")},
  sent_at = COALESCE(${OUTCOME.ref("sent_at")}, sent_at),
  send_started_at = CASE WHEN ${OUTCOME.ref("status")} IN ('scheduled', 'held') THEN send_started_at END,
  send_attempt = CASE WHEN ${OUTCOME.ref("status")} IN ('scheduled', 'held') THEN send_attempt END`;
}

const OUTCOME_REF = { now: OUTCOME.ref("now"), id: OUTCOME.ref("notification_id"), token: OUTCOME.ref("lease_token") };
const OUTCOME_TAKING_REF = {
  ...OUTCOME_REF,
  expiresAt: "NULL",
  ...takingRef(OUTCOME_TAKING.ref),
};

/**
 * An adoption's condition: no other notification records the message. Two notifications with the
 * same text to the same number, both answers lost, are settled by lookups that each find both
 * messages; two senders settling them at the same time each read the other's message as free, and
 * without this both would record the earlier one. The second write now changes nothing
 * (`changes = 0`), and its retry finds the first's message taken and adopts the other. The
 * placeholders are OUTCOME_NAMES', the same in both forms.
 */
const ADOPTION_GUARD = `
  AND NOT EXISTS (SELECT 1 FROM notifications AS other
    WHERE other.provider_message_id = ${OUTCOME.ref("provider_message_id")}
      AND other.notification_id <> ${OUTCOME.ref("notification_id")})`;

/** The outcome's UPDATEs built so far, by form: at most eight. */
const OUTCOME_SQL = new Map<string, string>();

/**
 * The outcome's UPDATE by whether it takes the row, whether it sets `rendered`, and whether it adopts
 * a message found at the provider: built once each.
 */
function outcomeSql(taking: boolean, setsRendered: boolean, adopted: boolean): string {
  const key = `${taking}:${setsRendered}:${adopted}`;
  let sql = OUTCOME_SQL.get(key);
  if (sql === undefined) {
    const set = outcomeSet(setsRendered);
    const update = taking
      ? NOTIFICATION_OUTBOX.takeSql(set, "record", OUTCOME_TAKING_REF)
      : NOTIFICATION_OUTBOX.recordSql(set, OUTCOME_REF);
    sql = adopted ? update + ADOPTION_GUARD : update;
    OUTCOME_SQL.set(key, sql);
  }
  return sql;
}

/**
 * Records a send outcome and releases the lease, only if our lease still holds the row, or, with
 * `taking`, if no other sender took the row since it was read (the outcome takes it: no claim write).
 */
export function recordOutcome(
  db: D1Database,
  outcome: Outcome,
  lease: SendLease,
  now: string,
  taking?: Taking,
): D1PreparedStatement {
  const values = {
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
  };
  const sql = outcomeSql(
    taking !== undefined,
    outcome.rendered != null,
    outcome.adopted === true && outcome.providerMessageId != null,
  );
  return taking
    ? db.prepare(sql).bind(...OUTCOME_TAKING.bind({ ...values, ...takingValues(taking) }))
    : db.prepare(sql).bind(...OUTCOME.bind(values));
}

/**
 * A message this notification's own call created is its own: another notification that adopted it
 * took a message that was not its. That happens when the other's lookup (after a lost answer) ran in
 * the moment between the provider's answer to our call and our record of it, so it read the message
 * as nobody's ({@link ADOPTION_GUARD} covers only a message already recorded). Recorded with our
 * outcome, in the same write: the other row goes back to `pending`, with the time of its own earlier
 * attempt as its send mark, so its next sender looks again (the sweep enqueues it). That lookup skips
 * our message, now recorded, and adopts the other's own if its attempt reached the provider, or sends it
 * if not. Without this, its text was never sent while its row said `sent`. `changes` says how many
 * rows went back (none, nearly always: one index search).
 */
export function releaseAdopters(
  db: D1Database,
  notificationId: string,
  providerMessageId: string,
  now: string,
  /** Only once our row records the message (a delivery report, which the provider could send for another). */
  whenRecorded = false,
): D1PreparedStatement {
  return db
    .prepare(whenRecorded ? RELEASE_ADOPTERS_SQL + RECORDED_BY_US : RELEASE_ADOPTERS_SQL)
    .bind(notificationId, providerMessageId, now);
}

const RELEASE_ADOPTERS_SQL = `UPDATE notifications SET status = 'pending', status_at = ?3,
  error = 'adopted another notification''s message; will look again', provider_message_id = NULL,
  send_started_at = COALESCE(send_started_at, sent_at), sent_at = NULL, next_attempt_at = NULL,
  lease_token = NULL, lease_expires_at = NULL, updated_at = ?3
WHERE provider_message_id = ?2 AND notification_id <> ?1`;
const RECORDED_BY_US = `
  AND EXISTS (SELECT 1 FROM notifications AS ours WHERE ours.notification_id = ?1 AND ours.provider_message_id = ?2)`;

/**
 * Releases a lease without changing the status (a failure that will retry), noting when the retry is
 * due so the sweep leaves the row alone until then. An `unknown` outcome keeps `send_started_at`, so
 * the retry asks the provider first; a definite failure clears it. With `taking`, on a row read and
 * not yet taken: only if no other sender took it since.
 */
export function releaseNotification(
  db: D1Database,
  notificationId: string,
  error: string,
  lease: SendLease,
  now: string,
  retryAt: string,
  outcomeUnknown = false,
  taking?: Taking,
): D1PreparedStatement {
  return NOTIFICATION_OUTBOX.retryLater(db, notificationId, error, lease, now, retryAt, outcomeUnknown, taking);
}

/**
 * Marks that a provider is about to be called for this row, with the exact text it will get
 * (`rendered`, shown to staff) and the exact message, destination included (`send_attempt`): if the
 * answer is then lost, the next sender looks that message up, or repeats it, before sending anything
 * else. Keeps the earliest start (the lookup searches from that day). The mark takes the row it read
 * under our lease, held through the call ({@link Taking}: only if no other sender took the row since
 * the read, or it is ours already; `changes = 1`), so a send costs no claim write.
 */
export function markSendStarted(
  db: D1Database,
  notificationId: string,
  rendered: string,
  attempt: string,
  toldTrackingNumber: string | null,
  lease: SendLease,
  now: string,
  taking: Taking,
  locale: string | null = null,
): D1PreparedStatement {
  return db.prepare(MARK_SQL).bind(
    ...MARK.bind({
      notification_id: notificationId,
      rendered,
      now,
      lease_token: lease.token,
      send_attempt: attempt,
      told_tracking_number: toldTrackingNumber,
      locale,
      expires_at: lease.expiresAt,
      ...takingValues(taking),
    }),
  );
}

const MARK = namedParameters([
  "notification_id",
  "rendered",
  "now",
  "lease_token",
  "send_attempt",
  "told_tracking_number",
  "locale",
  "expires_at",
  ...TAKING_PARAMETERS,
] as const);

const MARK_SQL = NOTIFICATION_OUTBOX.takeSql(
  `send_started_at = COALESCE(send_started_at, ${MARK.ref("now")}), rendered = ${MARK.ref("rendered")},
  send_attempt = ${MARK.ref("send_attempt")}, told_tracking_number = ${MARK.ref("told_tracking_number")},
  locale = COALESCE(${MARK.ref("locale")}, locale)`,
  "hold",
  {
    now: MARK.ref("now"),
    id: MARK.ref("notification_id"),
    token: MARK.ref("lease_token"),
    expiresAt: MARK.ref("expires_at"),
    ...takingRef(MARK.ref),
  },
);

/** A provider message id and the notification that records it. */
export interface RecordedProviderId {
  provider_message_id: string;
  notification_id: string;
}

/** Which of some provider message ids a notification row already records, and which row (one statement). */
export async function recordedProviderIds(db: D1Database, ids: readonly string[]): Promise<RecordedProviderId[]> {
  if (ids.length === 0) return [];
  const { results } = await db
    .prepare(
      `SELECT provider_message_id, notification_id FROM notifications
WHERE provider_message_id IN (SELECT value FROM json_each(?1))`,
    )
    .bind(JSON.stringify(ids))
    .all<RecordedProviderId>();
  return results;
}

/**
 * A provider's delivery report, by our notification id (from Twilio's callback URL) and the provider's
 * message id (Twilio's SID, Resend's email id). Twilio's when `channel` is not given.
 */
export interface DeliveryReport {
  notificationId: string | null;
  providerMessageId: string;
  status: "sent" | "delivered" | "failed";
  error: string | null;
  channel?: Channel;
  provider?: "twilio" | "resend";
}

/**
 * Applies a delivery report. Statuses only move forward: pending/scheduled < sent < delivered or
 * failed. A report applies only when it ranks above the row's status, so a late `sent` never
 * overwrites `delivered`, and once one final report (`delivered`, or `failed` for Twilio's
 * `undelivered`/`failed` or Resend's bounce) is recorded the other never replaces it: the first final
 * report wins. A report that arrives before the sender recorded its outcome (matched by notification
 * id, or by the provider's id) records the send itself: status, id, provider and time. Returns the row
 * when the report changed it.
 */
export async function applyDeliveryReport(
  db: D1Database,
  report: DeliveryReport,
  now: string,
): Promise<NotificationRow | null> {
  if (report.notificationId === null) return deliveryReportStatement(db, report, now).first<NotificationRow>();
  // By our id, the row may not have the provider's id yet (the report came before the send's outcome):
  // it is filled in first, only where missing, so the report itself leaves the column alone. The
  // provider reports the message as ours (the callback URL carries our id), so a notification that
  // adopted it looks again, as when the sender records it (releaseAdopters).
  const [, applied] = await db.batch([
    deliveryReportSql(db, DELIVERY_REPORT_PROVIDER_ID_SQL, report, now),
    deliveryReportSql(db, DELIVERY_REPORT_SQL, report, now),
    releaseAdopters(db, report.notificationId, report.providerMessageId, now, true),
  ]);
  return (applied?.results[0] as NotificationRow | undefined) ?? null;
}

/**
 * {@link applyDeliveryReport} as one statement, for a batch (`RETURNING` the changed row). By the
 * provider's id (`notificationId` null) the row already records that id; by our id, the statement also
 * records the provider's id on a row that has none yet.
 */
export function deliveryReportStatement(db: D1Database, report: DeliveryReport, now: string): D1PreparedStatement {
  return deliveryReportSql(
    db,
    report.notificationId === null ? DELIVERY_REPORT_SQL : DELIVERY_REPORT_SETTING_PROVIDER_ID_SQL,
    report,
    now,
  );
}

/** The rows a report applies to: its notification, at a status the report ranks above. */
const DELIVERY_REPORT_WHERE = `(notification_id = ?1 OR (?1 IS NULL AND provider_message_id = ?2)) AND channel = ?6
  AND (provider_message_id IS NULL OR provider_message_id = ?2)
  AND (CASE status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'failed' THEN 2 ELSE 0 END)
    < (CASE ?3 WHEN 'sent' THEN 1 ELSE 2 END)`;

const deliveryReportUpdate = (setsProviderId: boolean) =>
  `UPDATE notifications SET status = ?3, status_at = ?5, error = COALESCE(?4, error), updated_at = ?5,
  provider = COALESCE(provider, ?7),${setsProviderId ? " provider_message_id = COALESCE(provider_message_id, ?2)," : ""}
  sent_at = COALESCE(sent_at, ?5), send_started_at = NULL, send_attempt = NULL
WHERE ${DELIVERY_REPORT_WHERE}
RETURNING *`;

/** A delivery report statement and how many of the report's values (?1 to ?n) it names. */
interface ReportStatement {
  sql: string;
  /** D1 rejects a statement bound with more values than it names. */
  values: 6 | 7;
}

// A SET of provider_message_id re-adds its index entry (notifications_provider_message) even when the
// value is unchanged, one D1 row written (issue 26.2); the report leaves the column out where the row
// is known to have it: matched by it, or after the statement that fills it in only where it is missing.
const DELIVERY_REPORT_SQL: ReportStatement = { sql: deliveryReportUpdate(false), values: 7 };
const DELIVERY_REPORT_SETTING_PROVIDER_ID_SQL: ReportStatement = { sql: deliveryReportUpdate(true), values: 7 };
const DELIVERY_REPORT_PROVIDER_ID_SQL: ReportStatement = {
  sql: `UPDATE notifications SET provider_message_id = ?2
WHERE ${DELIVERY_REPORT_WHERE} AND provider_message_id IS NULL`,
  values: 6,
};

function deliveryReportSql(
  db: D1Database,
  { sql, values: named }: ReportStatement,
  report: DeliveryReport,
  now: string,
): D1PreparedStatement {
  const values = [
    report.notificationId,
    report.providerMessageId,
    report.status,
    report.error,
    now,
    report.channel ?? "sms",
    report.provider ?? "twilio",
  ];
  return db.prepare(sql).bind(...values.slice(0, named));
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

/** A notification sent to a patient of a clinic (for the daily cap, which counts per clinic and patient). */
export interface RecentSend {
  /** The clinic of the notification's event: patient ids are NovaMed's per clinic, so two clinics may share one. */
  clinic_id: string;
  patient_id: string;
  channel: Channel;
  sent_at: string;
}

/** The sends to some patient ids since `since` (ISO), with their events' clinics, in one statement. */
export function selectRecentSends(db: D1Database, patientIds: readonly string[], since: string): Query<RecentSend> {
  return db
    .prepare(
      `SELECT events.clinic_id AS clinic_id, notifications.patient_id AS patient_id, notifications.channel AS channel,
  notifications.sent_at AS sent_at
FROM notifications JOIN events ON events.event_id = notifications.event_id
WHERE notifications.patient_id IN (SELECT value FROM json_each(?1)) AND notifications.sent_at >= ?2`,
    )
    .bind(JSON.stringify(patientIds), since);
}
