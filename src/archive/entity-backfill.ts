import {
  type ArchiveObjectRow,
  backfillEntityIndex,
  entityKey,
  markEntitiesIndexed,
  objectsWithoutEntityIndex,
} from "../db/archive";
import { ENTITY_TABLES } from "../db/entities";
import { ENTITY_KINDS } from "../event-types";
import { errorKind, log } from "../log";
import type { ArchiveLine } from "./ndjson";
import { type ArchiveContext, ArchiveReadBackError, readBack } from "./objects";

/** Objects the backfill reads back per run at most: a get from R2 and one D1 batch each. */
export const BACKFILL_OBJECTS_PER_RUN = 10;

export interface BackfillResult {
  objects: number;
  entities: number;
  unreadable: number;
}

/**
 * The entity index's backfill (migration 0187): history objects archived before entities were indexed
 * (`entities_indexed = 0`) are read back from R2, a few a run, and their orders, medication requests
 * and refills indexed under them, in one batch with the object's mark, so the entity routes find them
 * like any archived since. The index statements add nothing once the object is marked, so a batch
 * repeated after it committed adds no second entry. An object that no longer reads back whole is
 * marked -1 and logged, and the next ones go on. Any other failure (R2 or D1 down) ends the step for
 * this run, logged, and the archive's other steps go on.
 */
export async function backfillArchivedEntities(context: ArchiveContext): Promise<BackfillResult> {
  const result: BackfillResult = { objects: 0, entities: 0, unreadable: 0 };
  try {
    await backfill(context, result);
  } catch (error) {
    log.warn("archive entity index backfill failed", { error: errorKind(error) });
  }
  if (result.objects > 0 || result.unreadable > 0) log.info("archive entity index backfilled", { ...result });
  return result;
}

async function backfill(context: ArchiveContext, result: BackfillResult): Promise<void> {
  const { env, budget } = context;
  if (budget.remaining < 2) return;
  budget.spend(1);
  const objects = await objectsWithoutEntityIndex(env.DB, BACKFILL_OBJECTS_PER_RUN);
  for (const object of objects) {
    let lines: ArchiveLine[];
    try {
      lines = await readBack(env.ARCHIVE, object.object_key, object.line_count);
    } catch (error) {
      if (!(error instanceof ArchiveReadBackError)) throw error;
      if (budget.remaining < 1) break;
      budget.spend(1);
      await markEntitiesIndexed(env.DB, object.object_id, -1).run();
      log.error("archive object unreadable; its entities stay unindexed", {
        object_id: object.object_id,
        error: errorKind(error),
      });
      result.unreadable += 1;
      continue;
    }
    const statements = await backfillStatements(context, object, lines);
    if (statements.length > budget.remaining) break;
    budget.spend(statements.length);
    await env.DB.batch(statements);
    result.objects += 1;
    result.entities += entitiesIn(lines);
  }
}

/** The object's entities' index statements (in chunks of the run's page size), then its mark. */
export async function backfillStatements(
  context: Pick<ArchiveContext, "env" | "pageRows">,
  object: Pick<ArchiveObjectRow, "object_id">,
  lines: readonly ArchiveLine[],
): Promise<D1PreparedStatement[]> {
  const { env, pageRows } = context;
  const statements: D1PreparedStatement[] = [];
  for (const kind of ENTITY_KINDS) {
    const { table, idColumn } = ENTITY_TABLES[kind];
    const ids = [...new Set(lines.filter((line) => line.table === table).map((line) => String(line.row[idColumn])))];
    for (let start = 0; start < ids.length; start += pageRows) {
      const chunk = ids.slice(start, start + pageRows);
      const entities = await Promise.all(chunk.map(async (id) => ({ id, key: await entityKey(kind, id) })));
      statements.push(backfillEntityIndex(env.DB, entities, object.object_id));
    }
  }
  statements.push(markEntitiesIndexed(env.DB, object.object_id, 1));
  return statements;
}

const ENTITY_TABLE_NAMES = new Set<string>(ENTITY_KINDS.map((kind) => ENTITY_TABLES[kind].table));

function entitiesIn(lines: readonly ArchiveLine[]): number {
  return lines.filter((line) => ENTITY_TABLE_NAMES.has(line.table)).length;
}
