import type { EntityKind } from "../event-types";
import { ENTITY_TABLES } from "./entities";

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

/** The two cutoffs of entity retention: final entities quiet since `final`, any entity quiet since `any`. */
export interface EntityPurgeCutoffs {
  final: string;
  any: string;
}

/**
 * Clears the PHI facts of up to `chunk` entities of `kind` whose last event came before
 * `cutoffs.final` and which are in a final status, or whose last event came before `cutoffs.any`
 * whatever their status, stamping `facts_purged_at = now`. Returns the rows cleared.
 */
export async function purgeEntityFacts(
  db: D1Database,
  kind: EntityKind,
  cutoffs: EntityPurgeCutoffs,
  now: string,
  chunk: number,
): Promise<number> {
  const { table, idColumn } = ENTITY_TABLES[kind];
  const { phiFacts, finalStatuses } = ENTITY_RETENTION[kind];
  const cleared = phiFacts.map((column) => `${column} = NULL`).join(", ");
  const statuses = finalStatuses.map((status) => `'${status}'`).join(", ");
  const result = await db
    .prepare(
      `UPDATE ${table} SET ${cleared}, facts_purged_at = ?2
WHERE ${idColumn} IN (
  SELECT ${idColumn} FROM ${table}
  WHERE facts_purged_at IS NULL AND last_event_at < ?1 AND (status IN (${statuses}) OR last_event_at < ?4)
  LIMIT ?3)`,
    )
    .bind(cutoffs.final, now, chunk, cutoffs.any)
    .run();
  return result.meta.changes ?? 0;
}
