import type { EntityKind } from "../events/event-types";
import type { EventRow, EventStatus } from "./events";
import type { NotificationRow } from "./notifications";
import { andEventInScope, andInScope, type StaffScope } from "./scope";

/**
 * Typed SQL for the console's event lookups: filtered and searched lists, the events that named an
 * entity, a patient's messages. Every entity or patient lookup uses the JSON-path expression indexes
 * of migrations/0005_console.sql, so the expressions here must stay exactly as indexed.
 */

const EVENT_ROW_COLUMNS = `event_id, event_type, clinic_id, status, attempts, occurred_at, received_at, processed_at,
  last_error, issues, payload, payload_purged_at, conflicts, applications`;

/** The indexed JSON path of each entity's id inside an event payload, and the event types that apply to it. */
const ENTITY_REFERENCE: Record<EntityKind, { path: string; typePrefix: string }> = {
  order: { path: `json_extract(payload, '$.data.order_id')`, typePrefix: "order:" },
  medication_request: {
    path: `json_extract(payload, '$.data.medication_request_id')`,
    typePrefix: "medication_request:",
  },
  refill: { path: `json_extract(payload, '$.data.refill_id')`, typePrefix: "refill:" },
};
const PATIENT_REFERENCE = `json_extract(payload, '$.data.patient_id')`;

export interface EventSearch {
  status?: EventStatus;
  type?: string;
  /** Inclusive lower and exclusive upper bound on `received_at` (ISO 8601 UTC). */
  receivedFrom?: string;
  receivedBefore?: string;
  /** An event id, or an order, medication request, refill or patient id the event names. */
  reference?: string;
  limit: number;
  /** Position after which to continue (newest first): the last row's received_at and event_id. */
  after?: { receivedAt: string; eventId: string };
}

/**
 * Events newest first matching every given filter, one page plus one row (to tell whether another
 * page exists). Only the filters present go into the statement, so SQLite can pick the index each
 * needs (status, type, received range, or the id lookups united).
 */
export async function searchEventRows(db: D1Database, scope: StaffScope, search: EventSearch): Promise<EventRow[]> {
  const conditions: string[] = [];
  const params: (string | number)[] = [];
  const param = (value: string | number) => {
    params.push(value);
    return `?${params.length}`;
  };
  if (scope.clinics !== "all") {
    const inScope = andInScope(scope, "clinic_id", `?${params.length + 1}`);
    params.push(...inScope.values);
    conditions.push(inScope.sql.replace(" AND ", ""));
  }
  if (search.status) conditions.push(`status = ${param(search.status)}`);
  if (search.type) conditions.push(`event_type = ${param(search.type)}`);
  if (search.receivedFrom) conditions.push(`received_at >= ${param(search.receivedFrom)}`);
  if (search.receivedBefore) conditions.push(`received_at < ${param(search.receivedBefore)}`);
  if (search.reference) {
    const reference = param(search.reference);
    const paths = [...Object.values(ENTITY_REFERENCE).map((entry) => entry.path), PATIENT_REFERENCE];
    conditions.push(`(event_id = ${reference} OR ${paths.map((path) => `${path} = ${reference}`).join(" OR ")})`);
  }
  if (search.after) {
    const receivedAt = param(search.after.receivedAt);
    const eventId = param(search.after.eventId);
    conditions.push(`(received_at < ${receivedAt} OR (received_at = ${receivedAt} AND event_id < ${eventId}))`);
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
  const { results } = await db
    .prepare(
      `SELECT ${EVENT_ROW_COLUMNS} FROM events ${where} ORDER BY received_at DESC, event_id DESC LIMIT ${param(search.limit + 1)}`,
    )
    .bind(...params)
    .all<EventRow>();
  return results;
}

/**
 * The newest `limit` events of the entity's own types that named it (applied, stale or not applied
 * at all), and the notifications they caused, in one round trip.
 */
export async function eventsForEntity(
  db: D1Database,
  scope: StaffScope,
  kind: EntityKind,
  entityId: string,
  limit: number,
): Promise<{ events: EventRow[]; notifications: NotificationRow[] }> {
  const { path, typePrefix } = ENTITY_REFERENCE[kind];
  const inScope = andInScope(scope, "clinic_id", "?4");
  const matching = `${path} = ?1 AND substr(event_type, 1, ${typePrefix.length}) = ?2${inScope.sql}`;
  const [events, notifications] = await db.batch<Record<string, unknown>>([
    db
      .prepare(
        `SELECT ${EVENT_ROW_COLUMNS} FROM events WHERE ${matching} ORDER BY received_at DESC, event_id DESC LIMIT ?3`,
      )
      .bind(entityId, typePrefix, limit, ...inScope.values),
    db
      .prepare(
        `SELECT * FROM notifications WHERE event_id IN (
  SELECT event_id FROM events WHERE ${matching} ORDER BY received_at DESC, event_id DESC LIMIT ?3)
ORDER BY created_at, channel`,
      )
      .bind(entityId, typePrefix, limit, ...inScope.values),
  ]);
  return {
    events: (events?.results ?? []) as unknown as EventRow[],
    notifications: (notifications?.results ?? []) as unknown as NotificationRow[],
  };
}

/** A patient's newest `limit` notifications (`notifications_patient_created`), as a statement for a batch. */
export function selectPatientNotifications(
  db: D1Database,
  scope: StaffScope,
  patientId: string,
  limit: number,
): D1PreparedStatement {
  const inScope = andEventInScope(scope, "event_id", "?3");
  return db
    .prepare(`SELECT * FROM notifications WHERE patient_id = ?1${inScope.sql} ORDER BY created_at DESC LIMIT ?2`)
    .bind(patientId, limit, ...inScope.values);
}
