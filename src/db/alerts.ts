import { query, readBatch } from "./batch";
import { attemptLogUpsert, type DeliveryOutcome } from "./outbox";
import { where } from "./parameters";
import { andInScope, inScopeCondition, type StaffScope } from "./scope";
import type { AlertTargetType } from "./watch";

/** Typed SQL for lifecycle-watch alerts and their deliveries to staff (migration 0009). */

export type AlertState = "open" | "resolved";
export const ALERT_STATES: readonly AlertState[] = ["open", "resolved"];

/** The ways staff are told: a Slack-compatible webhook, or email through the email provider. */
export type AlertChannel = "webhook" | "email";

export interface AlertRow {
  alert_id: string;
  rule: string;
  target_type: AlertTargetType;
  target_id: string;
  clinic_id: string | null;
  state: AlertState;
  since: string;
  opened_at: string;
  resolved_at: string | null;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  last_notified_at: string | null;
}

export interface AlertListQuery {
  state?: AlertState;
  rule?: string;
  limit: number;
  /** Continue after this row of the newest-first order. */
  after?: { openedAt: string; alertId: string };
}

/**
 * Alerts newest first (by `opened_at`, then id), `limit + 1` rows so the caller knows whether a next
 * page exists; read through `alerts_state_opened` or `alerts_rule_state_opened`.
 */
export async function listAlerts(db: D1Database, scope: StaffScope, query: AlertListQuery): Promise<AlertRow[]> {
  const { after } = query;
  const filters = where()
    .and(query.state !== undefined, (param) => `state = ${param(query.state)}`)
    .and(query.rule !== undefined, (param) => `rule = ${param(query.rule)}`)
    .and(after !== undefined, (param) => {
      const openedAt = param(after?.openedAt);
      return `(opened_at < ${openedAt} OR (opened_at = ${openedAt} AND alert_id < ${param(after?.alertId)}))`;
    })
    .and(scope.clinics !== "all", (param) => inScopeCondition(scope, "clinic_id", param));
  const limit = filters.param(query.limit + 1);
  const { results } = await db
    .prepare(`SELECT * FROM alerts ${filters.clause} ORDER BY opened_at DESC, alert_id DESC LIMIT ${limit}`)
    .bind(...filters.values)
    .all<AlertRow>();
  return results;
}

/** One alert, or null. */
export async function getAlert(db: D1Database, scope: StaffScope, alertId: string): Promise<AlertRow | null> {
  const inScope = andInScope(scope, "clinic_id", "?2");
  return db
    .prepare(`SELECT * FROM alerts WHERE alert_id = ?1${inScope.sql}`)
    .bind(alertId, ...inScope.values)
    .first<AlertRow>();
}

/**
 * Records who acknowledged an alert (the first acknowledgement stands); returns the alert, or null
 * when no alert has this id.
 */
export async function acknowledgeAlert(
  db: D1Database,
  scope: StaffScope,
  alertId: string,
  actor: string,
  now: Date,
): Promise<AlertRow | null> {
  const inScope = andInScope(scope, "clinic_id", "?4");
  await db
    .prepare(
      `UPDATE alerts SET acknowledged_by = ?2, acknowledged_at = ?3 WHERE alert_id = ?1 AND acknowledged_by IS NULL${inScope.sql}`,
    )
    .bind(alertId, actor, now.toISOString(), ...inScope.values)
    .run();
  return getAlert(db, scope, alertId);
}

/** Open alerts staff have not yet been told about on `channel`, oldest first. */
export async function undeliveredAlerts(db: D1Database, channel: AlertChannel, limit: number): Promise<AlertRow[]> {
  const { results } = await db
    .prepare(
      `SELECT a.* FROM alerts a
WHERE a.state = 'open'
  AND NOT EXISTS (SELECT 1 FROM alert_deliveries d
                  WHERE d.alert_id = a.alert_id AND d.channel = ?1 AND d.delivered_at IS NOT NULL)
ORDER BY a.opened_at, a.alert_id LIMIT ?2`,
    )
    .bind(channel, limit)
    .all<AlertRow>();
  return results;
}

/** Open alerts oldest first, for the digest, with how many are open in all. */
export async function openAlertsForDigest(
  db: D1Database,
  limit: number,
): Promise<{ alerts: AlertRow[]; total: number }> {
  const [alerts, count] = await readBatch(db, [
    query<AlertRow>(
      db.prepare(`SELECT * FROM alerts WHERE state = 'open' ORDER BY opened_at, alert_id LIMIT ?1`).bind(limit),
    ),
    query<{ total: number }>(db.prepare(`SELECT COUNT(*) AS total FROM alerts WHERE state = 'open'`)),
  ]);
  return {
    alerts,
    total: Number(count[0]?.total ?? 0),
  };
}

/**
 * Records the outcome of telling staff about `alertIds` on `channel`, in one batch: delivered rows
 * are never sent again (and stamp `last_notified_at`); a failure counts an attempt for the next run.
 */
export async function recordAlertDelivery(
  db: D1Database,
  alertIds: readonly string[],
  channel: AlertChannel,
  outcome: DeliveryOutcome,
  now: Date,
): Promise<void> {
  if (alertIds.length === 0) return;
  const ids = JSON.stringify(alertIds);
  const at = now.toISOString();
  const delivered = outcome.delivered ? at : null;
  const error = outcome.delivered ? null : outcome.error;
  const statements = [
    db
      .prepare(
        `INSERT INTO alert_deliveries (alert_id, channel, attempts, last_error, delivered_at)
SELECT value, ?2, 1, ?3, ?4 FROM json_each(?1) WHERE true
${attemptLogUpsert("alert_deliveries", ["alert_id", "channel"])}`,
      )
      .bind(ids, channel, error, delivered),
  ];
  if (outcome.delivered) statements.push(markNotified(db, ids, at));
  await db.batch(statements);
}

function markNotified(db: D1Database, ids: string, at: string): D1PreparedStatement {
  return db
    .prepare(`UPDATE alerts SET last_notified_at = ?2 WHERE alert_id IN (SELECT value FROM json_each(?1))`)
    .bind(ids, at);
}

/** True when the digest of `day` (UTC, `YYYY-MM-DD`) has been delivered on `channel`. */
export async function digestDelivered(db: D1Database, day: string, channel: AlertChannel): Promise<boolean> {
  const row = await db
    .prepare(`SELECT delivered_at FROM alert_digests WHERE day = ?1 AND channel = ?2`)
    .bind(day, channel)
    .first<{ delivered_at: string | null }>();
  return Boolean(row?.delivered_at);
}

/** Records a digest attempt on `channel`; a delivered digest stamps `last_notified_at` on its alerts. */
export async function recordDigest(
  db: D1Database,
  day: string,
  channel: AlertChannel,
  alertIds: readonly string[],
  outcome: DeliveryOutcome,
  now: Date,
): Promise<void> {
  const at = now.toISOString();
  const statements = [
    db
      .prepare(
        `INSERT INTO alert_digests (day, channel, alert_count, attempts, last_error, delivered_at)
VALUES (?1, ?2, ?3, 1, ?4, ?5)
${attemptLogUpsert("alert_digests", ["day", "channel"], ["alert_count"])}`,
      )
      .bind(day, channel, alertIds.length, outcome.delivered ? null : outcome.error, outcome.delivered ? at : null),
  ];
  if (outcome.delivered && alertIds.length > 0) statements.push(markNotified(db, JSON.stringify(alertIds), at));
  await db.batch(statements);
}
