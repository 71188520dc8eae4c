import {
  type ArchivedTable,
  type ArchiveKind,
  type ArchiveUnit,
  DELETE_GUARDS,
  deleteArchivedRows,
  entityKey,
  eventKey,
  indexArchivedEntities,
  indexArchivedEvents,
  insertArchiveObject,
  markArchiveObjectDeleted,
  nextPart,
} from "../db/archive";
import { ENTITY_TABLES } from "../db/entities";
import { ENTITY_KINDS, type EntityKind } from "../event-types";
import { type ArchiveLine, decodeLines, encodeLines } from "./ndjson";

/**
 * The archive's one protocol, for history and audit alike: write the object to R2, read it back and
 * count its lines, record it in D1 (`archive_objects`, state `written`), then delete its rows from D1
 * chunk by chunk (each chunk of events or entities one `db.batch` with their index rows) and mark it
 * `deleted`.
 *
 * - A run that dies before the record: every row is still in D1; the next run picks the same unit and
 *   part, finds the object at its key and takes it as that part when it reads back whole (rewrites it
 *   otherwise): nothing duplicated in R2, nothing lost.
 * - A run that dies after the record: the next run reads the object back and deletes what it lists;
 *   deleting a row already gone changes nothing, so a half-finished delete just finishes.
 */

/** D1 queries left in this invocation (Workers allow 1,000; the other daily jobs use some). */
export class QueryBudget {
  constructor(private left: number) {}

  get remaining(): number {
    return this.left;
  }

  /** Counts `queries` about to run; throws rather than let a run pass its budget. */
  spend(queries = 1): void {
    if (queries > this.left) throw new Error("archive query budget exceeded");
    this.left -= queries;
  }
}

export interface ArchiveContext {
  env: Env;
  now: Date;
  budget: QueryBudget;
  /** Rows per D1 read and per guarded delete. */
  pageRows: number;
}

/** Thrown when an object read back is missing or does not hold the lines written. */
export class ArchiveReadBackError extends Error {
  constructor(readonly objectKey: string) {
    super("archive object read back does not match what was written");
    this.name = "ArchiveReadBackError";
  }
}

/** The tables whose rows are deleted, in the order they go (a notification before its event). */
const DELETE_ORDER: readonly ArchivedTable[] = [
  "notifications",
  "events",
  "orders",
  "medication_requests",
  "refills",
  "audit",
];

/** Most guarded-delete statements one object of `lines` rows of a table needs. */
export const deleteChunks = (rows: number, pageRows: number) => Math.ceil(rows / pageRows);

export function objectKey(kind: ArchiveKind, unit: ArchiveUnit, part: number): string {
  const where = kind === "audit" ? `audit/${unit.day}` : `history/${unit.clinic_id}/${unit.day}`;
  return `${where}/part-${part}.ndjson.gz`;
}

/** Writes, reads back, records and deletes one object of `lines` (1 + 1 + deletes queries). Returns rows deleted. */
export async function archiveObject(
  context: ArchiveContext,
  kind: ArchiveKind,
  unit: ArchiveUnit,
  lines: readonly ArchiveLine[],
): Promise<number> {
  const { env, budget } = context;
  budget.spend(1);
  const part = await nextPart(env.DB, kind, unit);
  const key = objectKey(kind, unit, part);
  const stored = (await adoptOrphan(env.ARCHIVE, key)) ?? (await writeAndReadBack(env.ARCHIVE, key, lines));
  budget.spend(1);
  const objectId = await insertArchiveObject(
    env.DB,
    {
      object_key: key,
      kind,
      clinic_id: unit.clinic_id,
      day: unit.day,
      part,
      line_count: stored.lines.length,
      bytes: stored.bytes,
    },
    context.now.toISOString(),
  );
  return deleteArchivedLines(context, objectId, stored.lines);
}

interface StoredObject {
  lines: ArchiveLine[];
  bytes: number;
}

async function writeAndReadBack(bucket: R2Bucket, key: string, lines: readonly ArchiveLine[]): Promise<StoredObject> {
  const body = await encodeLines(lines);
  await bucket.put(key, body, {
    httpMetadata: { contentType: "application/gzip" },
    customMetadata: { lines: String(lines.length) },
  });
  return { lines: await readBack(bucket, key, lines.length), bytes: body.byteLength };
}

/**
 * An object already at the key of an unrecorded part was written by a run that died before recording
 * it: every row it lists is still in D1. When it reads back whole it is taken as this part (its rows
 * are deleted like any part's) instead of being overwritten, so the archive also works under an R2
 * bucket lock, which refuses overwrites. One that does not read back whole is overwritten.
 */
async function adoptOrphan(bucket: R2Bucket, key: string): Promise<StoredObject | null> {
  const head = await bucket.head(key);
  const expected = Number(head?.customMetadata?.lines ?? Number.NaN);
  if (!head || !Number.isInteger(expected)) return null;
  try {
    return { lines: await readBack(bucket, key, expected), bytes: head.size };
  } catch (error) {
    if (error instanceof ArchiveReadBackError) return null;
    throw error;
  }
}

/** The object's lines, when it exists and holds exactly `expectedLines` of them. */
export async function readBack(bucket: R2Bucket, key: string, expectedLines: number): Promise<ArchiveLine[]> {
  const object = await bucket.get(key);
  if (!object) throw new ArchiveReadBackError(key);
  let lines: ArchiveLine[];
  try {
    lines = await decodeLines(await object.arrayBuffer());
  } catch {
    throw new ArchiveReadBackError(key);
  }
  if (lines.length !== expectedLines) throw new ArchiveReadBackError(key);
  return lines;
}

/** The entity kind of each entity table, whose rows are indexed as they leave D1. */
const ENTITY_KIND_OF_TABLE = new Map<string, EntityKind>(ENTITY_KINDS.map((kind) => [ENTITY_TABLES[kind].table, kind]));

/** The tables whose deleted rows are indexed (a second statement per chunk). */
const INDEXED_TABLES = new Set<string>(["events", ...ENTITY_KIND_OF_TABLE.keys()]);

/** Queries {@link deleteArchivedLines} runs for these lines. */
export function deleteQueries(lines: readonly ArchiveLine[], pageRows: number): number {
  let queries = 1;
  for (const table of DELETE_ORDER) {
    const chunks = deleteChunks(lines.filter((line) => line.table === table).length, pageRows);
    queries += INDEXED_TABLES.has(table) ? chunks * 2 : chunks;
  }
  return queries;
}

/**
 * Deletes from D1 the rows an object holds (those still exactly as archived), indexing its events in
 * the same batch as their delete, then marks the object `deleted`. Returns the rows deleted.
 */
export async function deleteArchivedLines(
  context: ArchiveContext,
  objectId: number,
  lines: readonly ArchiveLine[],
): Promise<number> {
  const { env, budget, pageRows } = context;
  let deleted = 0;
  for (const table of DELETE_ORDER) {
    const guard = DELETE_GUARDS[table];
    if (!guard) continue;
    const rows = lines.filter((line) => line.table === table).map((line) => line.row);
    for (let start = 0; start < rows.length; start += pageRows) {
      const chunk = rows.slice(start, start + pageRows);
      const keys = chunk.map((row) => [row[guard.idColumn], ...guard.unchanged.map((column) => row[column])]);
      const statements = [deleteArchivedRows(env.DB, table, keys)];
      if (table === "events") {
        const eventIds = chunk.map((row) => String(row.event_id));
        const events = await Promise.all(eventIds.map(async (eventId) => ({ eventId, key: await eventKey(eventId) })));
        statements.unshift(indexArchivedEvents(env.DB, events, objectId));
      }
      const kind = ENTITY_KIND_OF_TABLE.get(table);
      if (kind) {
        const ids = chunk.map((row) => String(row[guard.idColumn]));
        const entities = await Promise.all(ids.map(async (id) => ({ id, key: await entityKey(kind, id) })));
        statements.unshift(indexArchivedEntities(env.DB, kind, entities, objectId));
      }
      budget.spend(statements.length);
      const results = await env.DB.batch(statements);
      deleted += results.at(-1)?.meta.changes ?? 0;
    }
  }
  budget.spend(1);
  await markArchiveObjectDeleted(env.DB, objectId, context.now.toISOString()).run();
  return deleted;
}
