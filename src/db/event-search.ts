import type { EntityKind } from "../event-types";
import { type Query, query, readBatch } from "./batch";
import { EVENT_ROW_COLUMNS, type EventRow, type EventStatus, STATUS_INDEXED } from "./events";
import type { NotificationRow } from "./notification-outbox";
import { type ListPosition, nextPage, type Page, pageLimit } from "./paging";
import { where } from "./parameters";
import { type DirectoryClinic, type Patient, selectOptedOutPhones, selectPatients, toPatient } from "./patients";
import { andEventInScope, andInScope, inScopeCondition, type StaffScope } from "./scope";

/**
 * Typed SQL for the console's event lookups: filtered and searched lists, the events that named an
 * entity, a patient's messages. Every entity or patient lookup uses the JSON-path expression indexes
 * of migrations/0005_console.sql, so the expressions here must stay exactly as indexed.
 */

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
  /** Position after which to continue (newest first): the last row's `received_at` and `event_id`. */
  after?: ListPosition;
}

/**
 * A page of events newest first matching every given filter: the admin `/events` list and the
 * console's event list both read here. Only the filters present go into the statement, so SQLite can
 * pick the index each needs (a status other than `processed`, type, clinic, received range, or the id
 * lookups united).
 */
export async function searchEventRows(db: D1Database, scope: StaffScope, search: EventSearch): Promise<Page<EventRow>> {
  const { reference } = search;
  const filters = where()
    .and(scope.clinics !== "all", (param) => inScopeCondition(scope, "clinic_id", param))
    // `processed` (most events) reads the time-ordered index the other filters pick and filters;
    // any other status reads the partial `events_status_received`, which needs its own term.
    .and(
      Boolean(search.status),
      (param) => `status = ${param(search.status)}${search.status === "processed" ? "" : ` AND ${STATUS_INDEXED}`}`,
    )
    .and(Boolean(search.type), (param) => `event_type = ${param(search.type)}`)
    .and(Boolean(search.receivedFrom), (param) => `received_at >= ${param(search.receivedFrom)}`)
    .and(Boolean(search.receivedBefore), (param) => `received_at < ${param(search.receivedBefore)}`)
    .and(Boolean(reference), (param) => {
      const ref = param(reference);
      const paths = [...Object.values(ENTITY_REFERENCE).map((entry) => entry.path), PATIENT_REFERENCE];
      return `(event_id = ${ref} OR ${paths.map((path) => `${path} = ${ref}`).join(" OR ")})`;
    })
    .after(search.after, { time: "received_at", id: "event_id" }, "desc");
  const limit = filters.param(pageLimit(search.limit));
  const { results } = await db
    .prepare(
      `SELECT ${EVENT_ROW_COLUMNS} FROM events ${filters.clause} ORDER BY received_at DESC, event_id DESC LIMIT ${limit}`,
    )
    .bind(...filters.values)
    .all<EventRow>();
  return nextPage(results, search.limit, (row) => ({ time: row.received_at, id: row.event_id }));
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
  const [events, notifications] = await readBatch(db, [
    query<EventRow>(
      db
        .prepare(
          `SELECT ${EVENT_ROW_COLUMNS} FROM events WHERE ${matching} ORDER BY received_at DESC, event_id DESC LIMIT ?3`,
        )
        .bind(entityId, typePrefix, limit, ...inScope.values),
    ),
    query<NotificationRow>(
      db
        .prepare(
          `SELECT * FROM notifications WHERE event_id IN (
  SELECT event_id FROM events WHERE ${matching} ORDER BY received_at DESC, event_id DESC LIMIT ?3)
ORDER BY created_at, channel`,
        )
        .bind(entityId, typePrefix, limit, ...inScope.values),
    ),
  ]);
  return { events, notifications };
}

/** A patient's newest `limit` notifications (`notifications_patient_created`), as a statement for a batch. */
export function selectPatientNotifications(
  db: D1Database,
  scope: StaffScope,
  patientId: string,
  limit: number,
): Query<NotificationRow> {
  const inScope = andEventInScope(scope, "event_id", "?3");
  return query<NotificationRow>(
    db
      .prepare(`SELECT * FROM notifications WHERE patient_id = ?1${inScope.sql} ORDER BY created_at DESC LIMIT ?2`)
      .bind(patientId, limit, ...inScope.values),
  );
}

/**
 * What the console's patient page shows, in one round trip: the patient in the clinic's directory
 * (or null), whether their phone is opted out of SMS, and their newest `limit` messages.
 */
export async function readPatientPage(
  db: D1Database,
  scope: StaffScope,
  directory: DirectoryClinic,
  patientId: string,
  limit: number,
): Promise<{ patient: Patient | null; phoneOptedOut: boolean; notifications: NotificationRow[] }> {
  const [patients, optedOut, notifications] = await readBatch(db, [
    selectPatients(db, directory, [patientId]),
    selectOptedOutPhones(db, [patientId]),
    selectPatientNotifications(db, scope, patientId, limit),
  ]);
  const stored = patients[0];
  return { patient: stored ? toPatient(stored) : null, phoneOptedOut: optedOut.length > 0, notifications };
}
