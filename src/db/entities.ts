import type { Query } from "./batch";
import { andInScope, type StaffScope } from "./scope";

/**
 * Typed SQL for the entity tables (orders, medication requests, refills). Every write is a
 * "progression upsert": the event's status wins only if it ranks higher than the stored one (or ranks
 * the same and happened later, or at the same instant and wins the tie rule of TIE_PRECEDENCE), so a
 * stale or out-of-order event never moves an entity backwards. Facts are decided one by one: each
 * ends as carried by the latest event that carried it. Every write is also guarded by the token of the
 * attempt whose record took the event, so only that attempt commits its effects (see src/db/events.ts).
 */

import { type EntityKind, TIE_PRECEDENCE } from "../event-types";
import { type NamedParameters, namedParameters } from "./parameters";

interface EntityTable {
  table: string;
  idColumn: string;
  /** Nullable columns an event may carry; each ends as carried by the latest event that carried it. */
  facts: readonly string[];
}

export const ENTITY_TABLES = {
  order: {
    table: "orders",
    idColumn: "order_id",
    facts: [
      "medication_request_id",
      "carrier",
      "tracking_number",
      "estimated_delivery",
      "shipping_address",
      "cancellation_reason",
      "shipped_at",
      "delivered_at",
      "cancelled_at",
    ],
  },
  medication_request: {
    table: "medication_requests",
    idColumn: "medication_request_id",
    facts: [
      "practitioner_id",
      "medication_name",
      "quantity",
      "refills",
      "cancellation_reason",
      "approved_at",
      "filled_at",
      "cancelled_at",
    ],
  },
  refill: {
    table: "refills",
    idColumn: "refill_id",
    facts: ["medication_request_id", "denial_reason", "requested_at", "approved_at", "denied_at"],
  },
} as const satisfies Record<EntityKind, EntityTable>;

/**
 * What entity retention clears and when. An entity keeps its ids, statuses and times for good (the
 * clinic's record of what happened); its PHI facts go once it is final and quiet for the retention
 * period, or, final or not, once it has been quiet for the retention period plus a grace (an order
 * left `shipped`, a request left `approved`). See docs/security.md, "Data inventory".
 */
export const ENTITY_RETENTION = {
  order: {
    phiFacts: ["carrier", "tracking_number", "shipping_address", "cancellation_reason"],
    finalStatuses: ["delivered", "cancelled"],
  },
  medication_request: {
    phiFacts: ["medication_name", "quantity", "cancellation_reason"],
    finalStatuses: ["filled", "cancelled"],
  },
  refill: {
    phiFacts: ["denial_reason"],
    finalStatuses: ["approved", "denied"],
  },
} as const satisfies Record<EntityKind, { phiFacts: readonly string[]; finalStatuses: readonly string[] }>;

export type FactColumn<K extends EntityKind> = (typeof ENTITY_TABLES)[K]["facts"][number];
export type FactValue = string | number | null;

/** One event's intended write to one entity. */
export interface EntityWrite<K extends EntityKind = EntityKind> {
  kind: K;
  entityId: string;
  clinicId: string;
  patientId: string;
  status: string;
  /** Position in the entity's progression; terminal states rank highest. */
  rank: number;
  /** The event's timestamp, normalised to UTC ISO 8601 so strings compare in time order. */
  occurredAt: string;
  eventId: string;
  facts: Partial<Record<FactColumn<K>, FactValue>>;
}

export interface WriteGuard {
  /** The token of the consumer attempt whose record must have taken the event for the write to commit. */
  leaseOwner: string;
  now: string;
}

/** The parameters every progression upsert binds, before one per fact column. */
const WRITE_PARAMETERS = [
  "entity_id",
  "clinic_id",
  "patient_id",
  "status",
  "status_rank",
  "occurred_at",
  "event_id",
  "lease_owner",
  "now",
  "fact_key",
  "fact_times",
] as const;

type WriteParameter = (typeof WRITE_PARAMETERS)[number];

/** The upsert's parameters: the write's own, then the fact columns the event carries, by their column names. */
function upsertParameters(carried: readonly string[]): NamedParameters<WriteParameter | string> {
  return namedParameters<WriteParameter | string>([...WRITE_PARAMETERS, ...carried]);
}

/** SQL for a status's tie precedence (see TIE_PRECEDENCE): a CASE over the statuses that have one. */
function tiePrecedenceSql(kind: EntityKind, column: string): string {
  const entries = Object.entries(TIE_PRECEDENCE[kind] as Record<string, number>);
  if (entries.length === 0) return "0";
  return `(CASE ${column} ${entries.map(([status, precedence]) => `WHEN '${status}' THEN ${precedence}`).join(" ")} ELSE 0 END)`;
}

/**
 * The progression upsert of an event of `kind` that carries the fact columns `carried` (in the
 * entity's fact order). A fact the event does not carry is neither inserted nor SET: D1 bills a row
 * written for every index entry an UPDATE re-adds, and SQLite re-adds the entry of every index over a
 * column the UPDATE assigns, even to its own value (issue 26.2: an `order:delivered` without tracking
 * re-added `orders_medication_request` and `orders_tracking_key`). Leaving it out changes no value: a
 * fact an event does not carry never wins (`newer` needs the event's value), so the stored value and
 * its time stay either way.
 *
 * The status columns are SET on every write although a stale event leaves them as they are (and so
 * re-adds `orders_status_at`, `orders_status_changed` and, when shipped, `orders_shipped_eta`): the
 * columns an UPDATE assigns are fixed when it is prepared, and whether the status advances depends on
 * the stored row. Only a second statement could skip them, and in the usual case, an event that
 * advances the status, a second statement writes the row a second time.
 */
function progressionUpsertSql(kind: EntityKind, carried: readonly string[]): string {
  const { table, idColumn }: EntityTable = ENTITY_TABLES[kind];
  const { ref } = upsertParameters(carried);
  const incoming = tiePrecedenceSql(kind, "excluded.status");
  const stored = tiePrecedenceSql(kind, `${table}.status`);
  // Higher rank; or equal rank and later; or the same instant too and the tie rule (TIE_PRECEDENCE).
  const advances = `(excluded.status_rank > ${table}.status_rank OR (excluded.status_rank = ${table}.status_rank AND (excluded.status_at > ${table}.status_at OR (excluded.status_at = ${table}.status_at AND (${incoming} > ${stored} OR (${incoming} = ${stored} AND excluded.status_event_id > ${table}.status_event_id))))))`;
  const winner = (column: string) =>
    `${column} = CASE WHEN ${advances} THEN excluded.${column} ELSE ${table}.${column} END`;
  // A fact follows the latest event that carried it (by `occurred_at event_id`, see factKey), not
  // the status: a corrected quantity or a re-issued tracking number wins in any arrival order.
  // A stored fact without a recorded time (written before migration 0006) yields to any event.
  const storedFactKey = (column: string) => `COALESCE(json_extract(${table}.fact_times, '$.${column}'), '')`;
  const newer = (column: string) =>
    `(excluded.${column} IS NOT NULL AND (${table}.${column} IS NULL OR ${ref("fact_key")} > ${storedFactKey(column)}))`;
  const fact = (column: string) =>
    `${column} = CASE WHEN ${newer(column)} THEN excluded.${column} ELSE ${table}.${column} END`;
  const factTimes = `fact_times = json_set(COALESCE(${table}.fact_times, '{}'), ${carried
    .map(
      (column) =>
        `'$.${column}', CASE WHEN ${newer(column)} THEN ${ref("fact_key")} ELSE json_extract(${table}.fact_times, '$.${column}') END`,
    )
    .join(", ")})`;
  // A PHI fact written to an entity whose facts retention already cleared (a late event: a NovaMed
  // redelivery, a replay) makes it hold PHI again: it waits for the purge again (the facts-mark
  // triggers of migration 0181 fire on this write and move the mark down to it when it is below).
  const phiCarried = carried.filter((column) =>
    (ENTITY_RETENTION[kind].phiFacts as readonly string[]).includes(column),
  );
  const refilled = `facts_purged_at = CASE WHEN ${phiCarried.map(newer).join(" OR ")} THEN NULL ELSE ${table}.facts_purged_at END`;
  const columns = [
    idColumn,
    "clinic_id",
    "patient_id",
    "status",
    "status_rank",
    "status_at",
    "status_event_id",
    ...carried,
    "fact_times",
    "first_event_at",
    "last_event_at",
    "updated_at",
  ];
  // One value per column above: the event's time is both the first and the last event time.
  const values = [
    ref("entity_id"),
    ref("clinic_id"),
    ref("patient_id"),
    ref("status"),
    ref("status_rank"),
    ref("occurred_at"),
    ref("event_id"),
    ...carried.map(ref),
    ref("fact_times"),
    ref("occurred_at"),
    ref("occurred_at"),
    ref("now"),
  ];
  const assignments = [
    ...["status", "status_rank", "status_at", "status_event_id"].map(winner),
    ...carried.map(fact),
    ...(carried.length > 0 ? [factTimes] : []),
    ...(phiCarried.length > 0 ? [refilled] : []),
    `first_event_at = MIN(${table}.first_event_at, excluded.first_event_at)`,
    `last_event_at = MAX(${table}.last_event_at, excluded.last_event_at)`,
    "updated_at = excluded.updated_at",
  ];
  return `INSERT INTO ${table} (${columns.join(", ")})
SELECT ${values.join(", ")}
WHERE EXISTS (SELECT 1 FROM events WHERE event_id = ${ref("event_id")} AND lease_owner = ${ref("lease_owner")})
ON CONFLICT (${idColumn}) DO UPDATE SET
  ${assignments.join(",\n  ")}
WHERE lower(${table}.clinic_id) = lower(excluded.clinic_id)
RETURNING status, status_event_id`;
}

/**
 * The upserts built so far, by kind and carried facts. Bounded: one per subset of a kind's facts at
 * most (2^9 + 2^8 + 2^5), and NovaMed's event types carry a handful of those subsets.
 */
const UPSERT_SQL = new Map<string, string>();

function upsertSql(kind: EntityKind, carried: readonly string[]): string {
  const key = `${kind}:${carried.join(",")}`;
  let sql = UPSERT_SQL.get(key);
  if (sql === undefined) {
    sql = progressionUpsertSql(kind, carried);
    UPSERT_SQL.set(key, sql);
  }
  return sql;
}

/**
 * Orders the events that set a fact: their normalised time, then their id (the tie rule), as one
 * string that compares in that order because every stored time has the same fixed-width form.
 */
function factKey(write: EntityWrite): string {
  return `${write.occurredAt} ${write.eventId}`;
}

/** The guarded progression upsert for one event's write; returns the entity's resulting status. */
export function upsertEntity(db: D1Database, write: EntityWrite, guard: WriteGuard): D1PreparedStatement {
  const entity: EntityTable = ENTITY_TABLES[write.kind];
  const facts: Partial<Record<string, FactValue>> = write.facts;
  // The facts the event carries, in the entity's order, so each set of them has one SQL text.
  const carried = entity.facts.filter((column) => facts[column] != null);
  const values: Record<string, unknown> = {
    entity_id: write.entityId,
    clinic_id: write.clinicId,
    patient_id: write.patientId,
    status: write.status,
    status_rank: write.rank,
    occurred_at: write.occurredAt,
    event_id: write.eventId,
    lease_owner: guard.leaseOwner,
    now: guard.now,
    fact_key: factKey(write),
    fact_times: JSON.stringify(Object.fromEntries(carried.map((column) => [column, factKey(write)]))),
    ...Object.fromEntries(carried.map((column) => [column, facts[column]])),
  };
  return db.prepare(upsertSql(write.kind, carried)).bind(...upsertParameters(carried).bind(values));
}

/** What a shipping message needs of an order. */
export interface OrderFacts {
  carrier: string | null;
  tracking_number: string | null;
  estimated_delivery: string | null;
}

/** The shipping facts of several orders, in one statement. */
export function selectOrderFacts(
  db: D1Database,
  orderIds: readonly string[],
): Query<OrderFacts & { order_id: string }> {
  return db
    .prepare(
      `SELECT order_id, carrier, tracking_number, estimated_delivery FROM orders WHERE order_id IN (SELECT value FROM json_each(?1))`,
    )
    .bind(JSON.stringify(orderIds));
}

/** One entity row as stored within `scope`, or null (another clinic's reads as unknown); the admin API shapes it. */
export async function getEntity(
  db: D1Database,
  scope: StaffScope,
  kind: EntityKind,
  entityId: string,
): Promise<Record<string, unknown> | null> {
  const { table, idColumn } = ENTITY_TABLES[kind];
  const inScope = andInScope(scope, "clinic_id", "?2");
  return db
    .prepare(`SELECT * FROM ${table} WHERE ${idColumn} = ?1${inScope.sql}`)
    .bind(entityId, ...inScope.values)
    .first();
}
