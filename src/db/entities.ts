/**
 * Typed SQL for the entity tables (orders, medication requests, refills). Every write is a
 * "progression upsert": the event's status wins only if it ranks higher than the stored one (or ranks
 * the same and happened later), so a stale or out-of-order event never moves an entity backwards; it
 * still fills in facts the entity lacks. Every write is also guarded by the event's lease, so only the
 * consumer that holds the claim can commit its effects (see src/db/events.ts).
 */

import type { EntityKind } from "../events/event-types";

interface EntityTable {
  table: string;
  idColumn: string;
  /** Nullable columns an event may carry; newer events overwrite, stale ones only fill gaps. */
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
  /** The consumer invocation that must still hold the event's lease for the write to commit. */
  leaseOwner: string;
  now: string;
}

function progressionUpsertSql({ table, idColumn, facts }: EntityTable): string {
  const advances = `(excluded.status_rank > ${table}.status_rank OR (excluded.status_rank = ${table}.status_rank AND excluded.status_at > ${table}.status_at))`;
  const winner = (column: string) =>
    `${column} = CASE WHEN ${advances} THEN excluded.${column} ELSE ${table}.${column} END`;
  const fact = (column: string) =>
    `${column} = CASE WHEN ${advances} THEN COALESCE(excluded.${column}, ${table}.${column}) ELSE COALESCE(${table}.${column}, excluded.${column}) END`;
  const columns = [
    idColumn,
    "clinic_id",
    "patient_id",
    "status",
    "status_rank",
    "status_at",
    "status_event_id",
    ...facts,
    "first_event_at",
    "last_event_at",
    "updated_at",
  ];
  // ?1 id, ?2 clinic, ?3 patient, ?4 status, ?5 rank, ?6 occurred_at, ?7 event_id, ?8 lease owner,
  // ?9 now, then one parameter per fact.
  const factParams = facts.map((_, index) => `?${index + 10}`);
  const values = ["?1", "?2", "?3", "?4", "?5", "?6", "?7", ...factParams, "?6", "?6", "?9"];
  return `INSERT INTO ${table} (${columns.join(", ")})
SELECT ${values.join(", ")}
WHERE EXISTS (SELECT 1 FROM events WHERE event_id = ?7 AND lease_owner = ?8)
ON CONFLICT (${idColumn}) DO UPDATE SET
  ${["status", "status_rank", "status_at", "status_event_id"].map(winner).join(",\n  ")},
  ${facts.map(fact).join(",\n  ")},
  first_event_at = MIN(${table}.first_event_at, excluded.first_event_at),
  last_event_at = MAX(${table}.last_event_at, excluded.last_event_at),
  updated_at = excluded.updated_at
RETURNING status, status_event_id`;
}

const UPSERT_SQL: Record<EntityKind, string> = {
  order: progressionUpsertSql(ENTITY_TABLES.order),
  medication_request: progressionUpsertSql(ENTITY_TABLES.medication_request),
  refill: progressionUpsertSql(ENTITY_TABLES.refill),
};

/** The guarded progression upsert for one event's write; returns the entity's resulting status. */
export function upsertEntity(db: D1Database, write: EntityWrite, guard: WriteGuard): D1PreparedStatement {
  const facts = ENTITY_TABLES[write.kind].facts as readonly string[];
  const factValues = facts.map((column) => (write.facts as Record<string, FactValue | undefined>)[column] ?? null);
  return db
    .prepare(UPSERT_SQL[write.kind])
    .bind(
      write.entityId,
      write.clinicId,
      write.patientId,
      write.status,
      write.rank,
      write.occurredAt,
      write.eventId,
      guard.leaseOwner,
      guard.now,
      ...factValues,
    );
}

/** What a shipping message needs of an order. */
export interface OrderFacts {
  carrier: string | null;
  tracking_number: string | null;
  estimated_delivery: string | null;
}

/** The shipping facts of several orders, in one statement. */
export function selectOrderFacts(db: D1Database, orderIds: readonly string[]): D1PreparedStatement {
  return db
    .prepare(
      `SELECT order_id, carrier, tracking_number, estimated_delivery FROM orders WHERE order_id IN (SELECT value FROM json_each(?1))`,
    )
    .bind(JSON.stringify(orderIds));
}

/** One entity row as stored, or null; the admin API shapes it. */
export async function getEntity(
  db: D1Database,
  kind: EntityKind,
  entityId: string,
): Promise<Record<string, unknown> | null> {
  const { table, idColumn } = ENTITY_TABLES[kind];
  return db.prepare(`SELECT * FROM ${table} WHERE ${idColumn} = ?1`).bind(entityId).first();
}
