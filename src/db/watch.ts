import { STATUS_INDEXED } from "./events";
import { inStatusIndex } from "./notification-outbox";

/**
 * Typed SQL for the lifecycle watch's rules. A rule is two pieces of SQL over the same parameters:
 * the targets that offend now (`candidates`: `target_id, clinic_id, since`, read through an index)
 * and whether an open alert's target still offends (`stillOffends`, an expression over the `alerts`
 * row). Parameters: ?1 rule, ?2 target type, ?3 now (ISO), ?4 row limit, then ?5… the rule's own.
 */

export type AlertTargetType =
  | "order"
  | "medication_request"
  | "refill"
  | "clinic"
  | "event"
  | "notification"
  | "patient"
  | "config"
  | "inbound_reply";

export interface WatchQuery {
  rule: string;
  targetType: AlertTargetType;
  candidates: string;
  stillOffends: string;
  /** The rule's own parameters, bound from ?5 on. */
  params: unknown[];
}

const DAY_MS = 86_400_000;

function isoBefore(now: Date, ms: number): string {
  return new Date(now.getTime() - ms).toISOString();
}

/** A medication request approved `afterMs` ago or longer and no order names it yet. */
export function approvedWithoutOrder(now: Date, afterMs: number): WatchQuery {
  const noOrder = `NOT EXISTS (SELECT 1 FROM orders o WHERE o.medication_request_id = m.medication_request_id)`;
  return {
    rule: "medication_request:approved",
    targetType: "medication_request",
    candidates: `SELECT m.medication_request_id AS target_id, m.clinic_id, m.status_at AS since
FROM medication_requests m WHERE m.status = 'approved' AND m.status_at <= ?5 AND ${noOrder}`,
    stillOffends: `EXISTS (SELECT 1 FROM medication_requests m
WHERE m.medication_request_id = alerts.target_id AND m.status = 'approved' AND ${noOrder})`,
    params: [isoBefore(now, afterMs)],
  };
}

/** An entity still in `status` `afterMs` after it got there (orders created/processing, refills requested). */
export function stillInStatus(
  table: "orders" | "refills",
  status: "created" | "processing" | "requested",
  now: Date,
  afterMs: number,
): WatchQuery {
  const key = table === "orders" ? "order_id" : "refill_id";
  return {
    rule: `${table === "orders" ? "order" : "refill"}:${status}`,
    targetType: table === "orders" ? "order" : "refill",
    candidates: `SELECT ${key} AS target_id, clinic_id, status_at AS since FROM ${table}
WHERE status = ?6 AND status_at <= ?5`,
    stillOffends: `EXISTS (SELECT 1 FROM ${table} WHERE ${key} = alerts.target_id AND status = ?6)`,
    params: [isoBefore(now, afterMs), status],
  };
}

/**
 * A shipped order not delivered: `afterMs` past its `estimated_delivery` when `fromEta` (a date-only
 * estimate counts from that day's start, UTC), `withoutEtaMs` after shipping when it has no estimate;
 * without `fromEta`, `afterMs` after shipping for every order.
 */
export function shippedNotDelivered(now: Date, afterMs: number, fromEta: boolean, withoutEtaMs: number): WatchQuery {
  const due = fromEta
    ? `((estimated_delivery IS NOT NULL AND estimated_delivery <= ?5) OR (estimated_delivery IS NULL AND status_at <= ?6))`
    : `status_at <= ?6`;
  return {
    rule: "order:shipped",
    targetType: "order",
    candidates: `SELECT order_id AS target_id, clinic_id, status_at AS since FROM orders WHERE status = 'shipped' AND ${due}`,
    stillOffends: `EXISTS (SELECT 1 FROM orders WHERE order_id = alerts.target_id AND status = 'shipped')`,
    params: [isoBefore(now, afterMs), isoBefore(now, fromEta ? withoutEtaMs : afterMs)],
  };
}

/**
 * A clinic of `clinicIds` whose newest event is `silenceMs` old or older, although it sent one in the
 * 7 days before that (a clinic that never sent anything, or went quiet long ago, is not "silent").
 * The alert resolves when any newer event arrives, or the clinic leaves the list.
 */
export function clinicSilence(now: Date, silenceMs: number, clinicIds: readonly string[]): WatchQuery {
  return {
    rule: "novamed_silence",
    targetType: "clinic",
    candidates: `SELECT * FROM (SELECT clinic.value AS target_id, clinic.value AS clinic_id,
  (SELECT MAX(received_at) FROM events WHERE clinic_id = clinic.value) AS since FROM json_each(?6) AS clinic)
WHERE since <= ?5 AND since >= ?7`,
    stillOffends: `alerts.target_id IN (SELECT value FROM json_each(?6))
AND NOT EXISTS (SELECT 1 FROM events WHERE clinic_id = alerts.target_id AND received_at > alerts.since)`,
    params: [isoBefore(now, silenceMs), JSON.stringify(clinicIds), isoBefore(now, silenceMs + 7 * DAY_MS)],
  };
}

/**
 * One clinic (or `unknown`) refused `count` times or more in the window from `windowStart` (a
 * `webhook_rejections` minute key, `YYYY-MM-DDTHH:MM`); resolves once the window holds fewer. A range
 * of `webhook_rejections_minute`.
 */
export function webhookRejections(windowStart: string, count: number): WatchQuery {
  const offending = `SELECT clinic_id, MIN(minute) AS first_minute FROM webhook_rejections WHERE minute >= ?5
GROUP BY clinic_id HAVING SUM(count) >= ?6`;
  return {
    rule: "webhook_rejections",
    targetType: "clinic",
    candidates: `SELECT clinic_id AS target_id, NULLIF(clinic_id, 'unknown') AS clinic_id,
  first_minute || ':00.000Z' AS since FROM (${offending})`,
    stillOffends: `alerts.target_id IN (SELECT clinic_id FROM (${offending}))`,
    params: [windowStart, count],
  };
}

/**
 * An event left `dead` or `invalid`; resolves when a replay moves it on. The candidates read the
 * partial `events_status_received` (migration 0170), which the literal term lets SQLite use.
 */
export function eventsInStatus(status: "dead" | "invalid"): WatchQuery {
  return {
    rule: `event_${status}`,
    targetType: "event",
    candidates: `SELECT event_id AS target_id, clinic_id, COALESCE(processed_at, received_at) AS since
FROM events WHERE status = ?5 AND ${STATUS_INDEXED}`,
    stillOffends: `EXISTS (SELECT 1 FROM events WHERE event_id = alerts.target_id AND status = ?5)`,
    params: [status],
  };
}

/** A notification `failed` or `held`; resolves when a replay moves it on. */
export function notificationsInStatus(status: "failed" | "held"): WatchQuery {
  return {
    rule: `notification_${status}`,
    targetType: "notification",
    candidates: `SELECT n.notification_id AS target_id, e.clinic_id, n.updated_at AS since
FROM notifications n LEFT JOIN events e ON e.event_id = n.event_id WHERE n.status = ?5 AND ${inStatusIndex("n.status")}`,
    stillOffends: `EXISTS (SELECT 1 FROM notifications WHERE notification_id = alerts.target_id AND status = ?5)`,
    params: [status],
  };
}

/**
 * A patient whose current phone Twilio called unreachable (migration 0100: 21211, 21614, 30005,
 * 30006); resolves when the phone changes (or the patient leaves the directory).
 */
export function phonesUnreachable(): WatchQuery {
  const onFile = (optOut: string) => `EXISTS (SELECT 1 FROM patients p WHERE p.patient_id = ${optOut}.patient_id
  AND p.clinic_id IN (${optOut}.clinic_id, '') AND p.phone = ${optOut}.contact)`;
  return {
    rule: "phone_unreachable",
    targetType: "patient",
    candidates: `SELECT co.patient_id AS target_id, co.clinic_id, co.opted_out_at AS since FROM contact_opt_outs co
WHERE co.reason = 'unreachable' AND co.channel = 'sms' AND ${onFile("co")}`,
    stillOffends: `EXISTS (SELECT 1 FROM contact_opt_outs co WHERE co.reason = 'unreachable' AND co.channel = 'sms'
  AND co.patient_id = alerts.target_id AND co.clinic_id = alerts.clinic_id AND ${onFile("co")})`,
    params: [],
  };
}

/**
 * A clinic whose texts a carrier filtered (Twilio 30007, usually an unregistered A2P 10DLC campaign)
 * since `since` (ISO); resolves once a whole window passes without one.
 */
export function carrierFiltering(since: string): WatchQuery {
  return {
    rule: "sms_carrier_filtering",
    targetType: "clinic",
    candidates: `SELECT clinic_id AS target_id, clinic_id, first_at AS since FROM sms_carrier_filtering WHERE last_at >= ?5`,
    stillOffends: `EXISTS (SELECT 1 FROM sms_carrier_filtering f WHERE f.clinic_id = alerts.target_id AND f.last_at >= ?5)`,
    params: [since],
  };
}

/** A misconfigured variable (by name); resolves when the variable reads cleanly again. */
export function configProblemsQuery(variables: readonly string[]): WatchQuery {
  return {
    rule: "config_problem",
    targetType: "config",
    candidates: `SELECT value AS target_id, NULL AS clinic_id, ?3 AS since FROM json_each(?5)`,
    stillOffends: `alerts.target_id IN (SELECT value FROM json_each(?5))`,
    params: [JSON.stringify(variables)],
  };
}

/**
 * Opens an alert for each offending target that has none open, at most `limit` per run (further
 * targets open on the next runs); the partial unique index keeps two runs from opening the same one.
 */
export function openAlertsStatement(db: D1Database, query: WatchQuery, now: Date, limit: number): D1PreparedStatement {
  return prepareWith(
    db,
    `INSERT INTO alerts (alert_id, rule, target_type, target_id, clinic_id, state, since, opened_at)
SELECT 'alt_' || lower(hex(randomblob(12))), ?1, ?2, candidate.target_id, candidate.clinic_id, 'open', candidate.since, ?3
FROM (${query.candidates}) AS candidate
WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE rule = ?1 AND target_id = candidate.target_id AND state = 'open')
LIMIT ?4
ON CONFLICT DO NOTHING`,
    [query.rule, query.targetType, now.toISOString(), limit, ...query.params],
  );
}

/**
 * Resolves the rule's open alerts whose target moved on. One primary-key probe per open alert of the
 * rule (found through `alerts_rule_state_opened`).
 */
export function resolveAlertsStatement(db: D1Database, query: WatchQuery, now: Date): D1PreparedStatement {
  return prepareWith(
    db,
    `UPDATE alerts SET state = 'resolved', resolved_at = ?3
WHERE rule = ?1 AND state = 'open' AND NOT (${query.stillOffends})`,
    [query.rule, query.targetType, now.toISOString(), null, ...query.params],
  );
}

/**
 * Binds the values up to the highest `?N` the SQL uses: the rules share one numbering, and D1 rejects
 * a statement bound with more values than it names (gaps below the highest are fine).
 */
function prepareWith(db: D1Database, sql: string, values: unknown[]): D1PreparedStatement {
  const highest = Math.max(0, ...[...sql.matchAll(/\?(\d+)/g)].map((match) => Number(match[1])));
  return db.prepare(sql).bind(...values.slice(0, highest));
}

/** Resolves every open alert of a rule that has been turned off. */
export function resolveRuleStatement(db: D1Database, rule: string, now: Date): D1PreparedStatement {
  return db
    .prepare(`UPDATE alerts SET state = 'resolved', resolved_at = ?2 WHERE rule = ?1 AND state = 'open'`)
    .bind(rule, now.toISOString());
}
