import { ENTITY_KINDS, type EntityKind } from "../event-types";
import { type Query, query, readBatch } from "./batch";
import { ENTITY_TABLES } from "./entities";
import { EVENT_ROW_COLUMNS, type EventRow, type EventStatus, STATUS_INDEXED } from "./events";
import { notificationsOfEventSql } from "./notification-keys";
import type { NotificationRow } from "./notification-outbox";
import { type ListPosition, nextPage, type Page, pageLimit } from "./paging";
import { where } from "./parameters";
import { type DirectoryClinic, type Patient, selectOptedOutPhones, selectPatients, toPatient } from "./patients";
import { andEventInScope, andInScope, inScopeCondition, type StaffScope } from "./scope";

/**
 * Typed SQL for the console's event lookups: filtered and searched lists, the events that named an
 * entity, a patient's messages. An event indexes the id of its own entity (migration 0184), and the
 * other ids it names (its patient, a medication request) only while it is not `processed`: an applied
 * event that named them is found through its entity, which keeps them. The expressions and the
 * literal type conditions here must stay exactly as indexed, or SQLite cannot use the partial indexes.
 */

/** The indexed expression of an id in an event's payload, `json_extract(payload, '$.data.<field>')`. */
function payloadPath(field: string, table = ""): string {
  return `json_extract(${table}payload, '$.data.${field}')`;
}

/**
 * A kind's own events as its subject index has them (migration 0184): the entity's id in their
 * payloads (the payload field is the entity table's id column) and the literal condition naming them,
 * `substr(event_type, 1, 6) = 'order:'` (a constant, never a value: a bound prefix cannot use it).
 */
function ownEvents(kind: EntityKind, table = ""): { path: string; ownType: string } {
  const prefix = `${kind}:`;
  return {
    path: payloadPath(ENTITY_TABLES[kind].idColumn, table),
    ownType: `substr(${table}event_type, 1, ${prefix.length}) = '${prefix}'`,
  };
}

/**
 * The ids of the events that name `ref` (a parameter), in one column `named_id`: the event itself,
 * the events of the entity with that id, the unapplied events naming it as their patient or medication
 * request (indexed while not `processed`), and the applied events of the entities whose patient or
 * medication request it is, when the event names it too. An entity keeps its first event's patient,
 * so an applied later event of the same order naming another patient is found by the order, not by
 * that other patient; and an applied event still in D1 after its entity moved to the archive (its
 * notification held or failed, with payloads kept longer than ARCHIVE_AFTER_DAYS) is found by its
 * own ids only. Four SELECTs in a `UNION` (an event is listed once; D1 allows five terms in a
 * compound SELECT), each an OR of index lookups. The entity side compares with `+entity.id`: without
 * the column's TEXT affinity, SQLite looks the event up by the expression index instead of scanning it.
 */
function referenceSql(ref: string): string {
  const own = ENTITY_KINDS.map((kind) => {
    const { path, ownType } = ownEvents(kind);
    return `(${ownType} AND ${path} = ${ref})`;
  });
  const unapplied = ["patient_id", "medication_request_id"].map(
    (field) => `(${STATUS_INDEXED} AND ${payloadPath(field)} = ${ref})`,
  );
  const named = (kind: EntityKind, columns: string[]) => {
    const { table, idColumn } = ENTITY_TABLES[kind];
    const { path, ownType } = ownEvents(kind, "e.");
    return `SELECT e.event_id FROM ${table} AS entity CROSS JOIN events AS e
  ON ${ownType} AND ${path} = +entity.${idColumn}
  WHERE (${columns.map((column) => `entity.${column} = ${ref}`).join(" OR ")})
    AND ${ref} IN (${columns.map((column) => payloadPath(column, "e.")).join(", ")})`;
  };
  return [
    `SELECT event_id AS named_id FROM events WHERE event_id = ${ref}\n  OR ${[...own, ...unapplied].join("\n  OR ")}`,
    named("order", ["patient_id", "medication_request_id"]),
    named("medication_request", ["patient_id"]),
    named("refill", ["patient_id", "medication_request_id"]),
  ].join("\nUNION ");
}

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
  // The reference first: its named ids drive the lookup by primary key, and the filters (also the
  // clinic's) apply to those rows; a CROSS JOIN keeps SQLite from starting at a clinic's whole range.
  const filters = where();
  const ref = reference ? filters.param(reference) : undefined;
  filters
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
    .after(search.after, { time: "received_at", id: "event_id" }, "desc");
  const from = ref ? `(${referenceSql(ref)}) AS named CROSS JOIN events ON events.event_id = named.named_id` : "events";
  const limit = filters.param(pageLimit(search.limit));
  const { results } = await db
    .prepare(
      `SELECT ${EVENT_ROW_COLUMNS} FROM ${from} ${filters.clause} ORDER BY received_at DESC, event_id DESC LIMIT ${limit}`,
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
  const { path, ownType } = ownEvents(kind);
  const inScope = andInScope(scope, "clinic_id", "?3");
  const matching = `${ownType} AND ${path} = ?1${inScope.sql}`;
  const [events, notifications] = await readBatch(db, [
    query<EventRow>(
      db
        .prepare(
          `SELECT ${EVENT_ROW_COLUMNS} FROM events WHERE ${matching} ORDER BY received_at DESC, event_id DESC LIMIT ?2`,
        )
        .bind(entityId, limit, ...inScope.values),
    ),
    query<NotificationRow>(
      db
        .prepare(
          `SELECT n.* FROM (
  SELECT event_id FROM events WHERE ${matching} ORDER BY received_at DESC, event_id DESC LIMIT ?2) AS e
JOIN notifications AS n ON ${notificationsOfEventSql("n.", "e.event_id")}
ORDER BY n.created_at, n.channel`,
        )
        .bind(entityId, limit, ...inScope.values),
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
  const inScope = andEventInScope(scope, "notifications.event_id", "?3");
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
