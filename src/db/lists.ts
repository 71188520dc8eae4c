import type { EntityKind } from "../event-types";
import { inStatusIndex, type NotificationRow, type NotificationStatus } from "./notification-outbox";
import { type ListPosition, nextPage, type Page, pageLimit } from "./paging";
import { where } from "./parameters";
import { eventInScopeCondition, inScopeCondition, type StaffScope } from "./scope";

/**
 * Typed SQL of the console's list pages (issue 24.1): patients, orders, medication requests, refills
 * and notifications, newest first, filtered, a page at a time after a cursor position (`nextPage`,
 * src/db/paging.ts, like every list). Only the filters given go into the SQL (`where()`),
 * so each keeps its index (test/db/query-plans.test.ts); every list is scoped to the identity's clinics.
 */

/** The filters every list shares. */
export interface ListQuery {
  /** Inclusive lower and exclusive upper bound on the list's time column (ISO 8601 UTC). */
  from?: string;
  before?: string;
  limit: number;
  after?: ListPosition;
}

/** Every notification status, in the order of a message's life. */
export const NOTIFICATION_STATUSES: readonly NotificationStatus[] = [
  "pending",
  "scheduled",
  "sent",
  "delivered",
  "failed",
  "suppressed",
  "superseded",
  "held",
];

/** The WHERE conditions of a list's time range and cursor on `timeColumn`, tie-broken by `idColumn`. */
function pageConditions(
  filters: ReturnType<typeof where>,
  query: ListQuery,
  timeColumn: string,
  idColumn: string,
): ReturnType<typeof where> {
  return filters
    .and(Boolean(query.from), (param) => `${timeColumn} >= ${param(query.from)}`)
    .and(Boolean(query.before), (param) => `${timeColumn} < ${param(query.before)}`)
    .after(query.after, { time: timeColumn, id: idColumn }, "desc");
}

/** One row of the orders, medication requests or refills list. */
export interface EntityListRow {
  id: string;
  clinic_id: string;
  patient_id: string;
  status: string;
  status_at: string;
  last_event_at: string;
  /** Orders only (null for the other kinds). */
  carrier: string | null;
  tracking_number: string | null;
}

const ENTITY_TABLES: Record<EntityKind, { table: string; idColumn: string; orderColumns: string }> = {
  order: { table: "orders", idColumn: "order_id", orderColumns: "carrier, tracking_number" },
  medication_request: {
    table: "medication_requests",
    idColumn: "medication_request_id",
    orderColumns: "NULL AS carrier, NULL AS tracking_number",
  },
  refill: { table: "refills", idColumn: "refill_id", orderColumns: "NULL AS carrier, NULL AS tracking_number" },
};

/**
 * One kind's entities by when their status last changed, newest first (`<table>_status_changed`, or
 * `<table>_status_at` with a status filter; migration 0110). No payload fact beyond ids, status,
 * times and (orders) carrier and tracking number: the list names no medication and no address.
 */
export async function listEntities(
  db: D1Database,
  scope: StaffScope,
  kind: EntityKind,
  query: ListQuery & { status?: string },
): Promise<Page<EntityListRow>> {
  const { table, idColumn, orderColumns } = ENTITY_TABLES[kind];
  const filters = pageConditions(
    where()
      .and(scope.clinics !== "all", (param) => inScopeCondition(scope, "clinic_id", param))
      .and(Boolean(query.status), (param) => `status = ${param(query.status)}`),
    query,
    "status_at",
    idColumn,
  );
  const { results } = await db
    .prepare(
      `SELECT ${idColumn} AS id, clinic_id, patient_id, status, status_at, last_event_at, ${orderColumns} FROM ${table}
${filters.clause} ORDER BY status_at DESC, ${idColumn} DESC LIMIT ${filters.param(pageLimit(query.limit))}`,
    )
    .bind(...filters.values)
    .all<EntityListRow>();
  return nextPage(results, query.limit, (row) => ({ time: row.status_at, id: row.id }));
}

/**
 * The clinics whose patients a scope may read: its own, plus the unassigned rows (clinic_id '') while
 * `soleClinic` is the only clinic and in the scope (src/db/patients.ts reads them as that clinic's).
 */
export function withUnassignedPatients(scope: StaffScope, soleClinic: string | null): StaffScope {
  if (scope.clinics === "all" || soleClinic === null || !scope.clinics.includes(soleClinic)) return scope;
  return { ...scope, clinics: [...scope.clinics, ""] };
}

/** One row of the patients list: contact details as stored (the page masks them). */
export interface PatientListRow {
  clinic_id: string;
  patient_id: string;
  phone: string | null;
  email: string | null;
  sms_opt_in: number;
  email_opt_in: number;
  updated_at: string;
}

/**
 * The directory by last change, newest first (`patients_updated`). A scope of some clinics sees its
 * clinics' rows, and the unassigned ones (clinic '') while `soleClinic` is the only clinic and its own.
 */
export async function listPatients(
  db: D1Database,
  scope: StaffScope,
  soleClinic: string | null,
  query: ListQuery,
): Promise<Page<PatientListRow>> {
  const clinics = withUnassignedPatients(scope, soleClinic);
  const filters = pageConditions(
    where().and(clinics.clinics !== "all", (param) => inScopeCondition(clinics, "clinic_id", param)),
    query,
    "updated_at",
    "patient_id",
  );
  const { results } = await db
    .prepare(
      `SELECT clinic_id, patient_id, phone, email, sms_opt_in, email_opt_in, updated_at FROM patients
${filters.clause} ORDER BY updated_at DESC, patient_id DESC LIMIT ${filters.param(pageLimit(query.limit))}`,
    )
    .bind(...filters.values)
    .all<PatientListRow>();
  return nextPage(results, query.limit, (row) => ({ time: row.updated_at, id: row.patient_id }));
}

export interface NotificationListQuery extends ListQuery {
  status?: string;
  /** The stable reason code a held, suppressed or failed row records (its `error`). */
  reason?: string;
  channel?: string;
  kind?: string;
}

/**
 * Notifications by creation, newest first (`notifications_created`, or `notifications_status_created`
 * with a status other than 'sent'), filtered by status, reason, channel and kind; a scope of some
 * clinics sees those of its clinics' events, each row's event checked by its primary key as the list
 * walks its index. The sent rows are not in the
 * status index (migration 0176): with 'sent', the list reads `notifications_created` in its order and
 * keeps the sent rows, most rows being sent.
 */
export async function listNotifications(
  db: D1Database,
  scope: StaffScope,
  query: NotificationListQuery,
): Promise<Page<NotificationRow>> {
  const filters = pageConditions(
    where()
      .and(scope.clinics !== "all", (param) => eventInScopeCondition(scope, "notifications.event_id", param))
      .and(
        Boolean(query.status),
        (param) => `status = ${param(query.status)}${query.status === "sent" ? "" : ` AND ${inStatusIndex()}`}`,
      )
      .and(Boolean(query.reason), (param) => `error = ${param(query.reason)}`)
      .and(Boolean(query.channel), (param) => `channel = ${param(query.channel)}`)
      .and(Boolean(query.kind), (param) => `kind = ${param(query.kind)}`),
    query,
    "created_at",
    "notification_id",
  );
  const { results } = await db
    .prepare(
      `SELECT * FROM notifications ${filters.clause} ORDER BY created_at DESC, notification_id DESC LIMIT ${filters.param(pageLimit(query.limit))}`,
    )
    .bind(...filters.values)
    .all<NotificationRow>();
  return nextPage(results, query.limit, (row) => ({ time: row.created_at, id: row.notification_id }));
}
