import type { EntityKind } from "../event-types";
import { ENTITY_RETENTION, ENTITY_TABLES } from "./entities";
import { type MarkedPurgeRun, markedPurgeRun } from "./purge-mark";

/** What entity retention clears and when (defined beside the entity tables, whose upsert reads it too). */
export { ENTITY_RETENTION };

/** The two cutoffs of entity retention: final entities quiet since `final`, any entity quiet since `any`. */
export interface EntityPurgeCutoffs {
  final: string;
  any: string;
}

/**
 * The two purges of the PHI facts of entities of `kind`, each stamping `facts_purged_at = now`: the
 * final entities whose last event came before `cutoffs.final`, then any entity whose last event came
 * before `cutoffs.any`. Each walks `status_at` up from its mark (src/db/purge-mark.ts, migration 0181;
 * through `<table>_status_at` for the final statuses, `<table>_status_changed` for any) instead of an
 * index on `last_event_at`, whose entry every upsert re-added (issue 26.2). An entity's last event is never earlier than its status
 * (`last_event_at` is the latest time of its events, `status_at` the time of one of them), so every
 * entity quiet since a cutoff has its status before it too, and the walk below the cutoff meets it.
 * One whose status is older than its last event (a late event that did not move it) is met before it
 * is quiet: it holds the mark (`pending`) until a run takes it. Triggers move a mark down to an entity
 * that comes to wait below it: one inserted with an old status, one whose status moves back in time or
 * into a final one there.
 */
export function entityFactsPurgeRuns(
  db: D1Database,
  kind: EntityKind,
  cutoffs: EntityPurgeCutoffs,
  now: string,
  chunk: number,
): MarkedPurgeRun[] {
  const { table, idColumn } = ENTITY_TABLES[kind];
  const { phiFacts, finalStatuses } = ENTITY_RETENTION[kind];
  const purge = {
    table,
    idColumn,
    timeColumn: "status_at",
    set: `${phiFacts.map((column) => `${column} = NULL`).join(", ")}, facts_purged_at = ?2`,
  };
  const final = `facts_purged_at IS NULL AND status IN (${finalStatuses.map((status) => `'${status}'`).join(", ")})`;
  return [
    markedPurgeRun(
      db,
      { ...purge, mark: `${table}.facts.final`, purgeable: `${final} AND last_event_at < ?1`, pending: final },
      { cutoff: cutoffs.final, now, chunk },
    ),
    markedPurgeRun(
      db,
      {
        ...purge,
        mark: `${table}.facts.any`,
        purgeable: "facts_purged_at IS NULL AND last_event_at < ?1",
        pending: "facts_purged_at IS NULL",
      },
      { cutoff: cutoffs.any, now, chunk },
    ),
  ];
}
