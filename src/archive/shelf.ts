import {
  bucketOf,
  closedIndexRows,
  deleteIndexRows,
  type IndexRow,
  objectIdsInEntries,
  objectsWrittenSince,
  rangeOf,
  readIndexEntries,
  SHELF_RANGES,
} from "../db/archive";
import type { QueryBudget } from "./objects";

/**
 * The event index's shelf: entries of events archived more than ARCHIVE_INDEX_DAYS ago leave D1
 * (`archived_event_buckets`) for R2, so the index in D1 holds a bounded number of days at any volume.
 *
 * - A range of buckets ({@link rangeOf}) is shelved under `index/events/<range>/`, in objects of
 *   text lines `<bucket>.<seq> <entries>`: one line per closed D1 row, as it was. The newest object
 *   grows to about {@link SHELF_OBJECT_BYTES}, then the next one starts, so a write never rewrites
 *   more than that and a lookup reads one object per that many bytes of old entries.
 * - A step writes the object and reads it back before it deletes the rows from D1. A run that dies
 *   between the two leaves the rows in both places; the next step finds its lines in the newest
 *   object, writes nothing, and deletes them. A lookup takes the union, so nothing is missed either way.
 * - The objects under `index/` are rewritten as they grow: an R2 bucket lock must not cover that
 *   prefix (docs/security.md locks `audit/` and `history/`).
 */

export const SHELF_PREFIX = "index/events/";
/** About how large a shelf object grows before the next one starts (1 MB: ~120,000 entries). */
export const SHELF_OBJECT_BYTES = 1_000_000;
/** Ranges the daily run visits (each range once every 16 days). */
export const SHELF_RANGES_PER_DAY = 16;
/**
 * Closed rows per bucket a visit may move: 4 rows of 120 entries every 16 days keeps up with about
 * 2 million archived events a day, and a visit reads at most 1,024 rows (about 1 MB).
 */
export const SHELF_ROWS_PER_BUCKET = 4;
/** D1 queries one range's step takes at most: the rows, their objects' age, the delete. */
export const SHELF_STEP_QUERIES = 3;

const rangePrefix = (range: number) => `${SHELF_PREFIX}${range.toString(16).padStart(2, "0")}/`;
const objectName = (range: number, generation: number) =>
  `${rangePrefix(range)}${String(generation).padStart(6, "0")}.txt`;

/** A shelf object's lines, each a closed row as it was in D1. */
function readShelfLines(text: string): IndexRow[] {
  const rows: IndexRow[] = [];
  for (const line of text.split("\n")) {
    const match = /^(\d+)\.(\d+) ([A-Za-z0-9_-]*)$/.exec(line);
    if (match) rows.push({ bucket: Number(match[1]), seq: Number(match[2]), entries: match[3] ?? "" });
  }
  return rows;
}

const shelfLines = (rows: readonly IndexRow[]) =>
  rows.map((row) => `${row.bucket}.${row.seq} ${row.entries}\n`).join("");

/** Thrown when a shelf object read back does not hold what was written. */
export class ShelfReadBackError extends Error {
  constructor(readonly objectKey: string) {
    super("index shelf object read back does not match what was written");
    this.name = "ShelfReadBackError";
  }
}

/** The keys of a range's shelf objects, oldest first. */
async function shelfObjects(bucket: R2Bucket, range: number): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const listing = await bucket.list({ prefix: rangePrefix(range), cursor });
    keys.push(...listing.objects.map((object) => object.key));
    cursor = listing.truncated ? listing.cursor : undefined;
  } while (cursor);
  return keys.sort();
}

/** The ranges the daily run at `now` visits: {@link SHELF_RANGES_PER_DAY} of them, turning with the day. */
export function rangesOfDay(now: Date): number[] {
  const day = Math.floor(now.getTime() / 86_400_000);
  const first = (day * SHELF_RANGES_PER_DAY) % SHELF_RANGES;
  return Array.from({ length: SHELF_RANGES_PER_DAY }, (_, index) => (first + index) % SHELF_RANGES);
}

export interface ShelfStep {
  /** Closed rows moved to R2 and deleted from D1. */
  rows: number;
  /** Entries those rows held. */
  entries: number;
}

/**
 * Shelves one range: its closed rows whose every entry names an object written before `cutoff` go
 * to R2 (appended to the range's newest object, or a new one), are read back, then leave D1.
 */
export async function shelveRange(env: Env, budget: QueryBudget, range: number, cutoff: string): Promise<ShelfStep> {
  budget.spend(1);
  const rows = await closedIndexRows(env.DB, range, SHELF_ROWS_PER_BUCKET);
  if (rows.length === 0) return { rows: 0, entries: 0 };
  const objectsOf = new Map(rows.map((row) => [row, readIndexEntries(row.entries).map((entry) => entry.objectId)]));
  budget.spend(1);
  const young = await objectsWrittenSince(env.DB, new Set([...objectsOf.values()].flat()), cutoff);
  const old = rows.filter((row) => (objectsOf.get(row) ?? []).every((id) => !young.has(id)));
  if (old.length === 0) return { rows: 0, entries: 0 };

  const keys = await shelfObjects(env.ARCHIVE, range);
  const newestKey = keys.at(-1);
  const newest = newestKey ? ((await (await env.ARCHIVE.get(newestKey))?.text()) ?? "") : "";
  const shelved = new Set(readShelfLines(newest).map((row) => `${row.bucket}.${row.seq}`));
  const fresh = old.filter((row) => !shelved.has(`${row.bucket}.${row.seq}`));
  if (fresh.length > 0) {
    const lines = shelfLines(fresh);
    const append = newestKey !== undefined && newest.length + lines.length <= SHELF_OBJECT_BYTES;
    const key = append ? newestKey : objectName(range, keys.length);
    const body = append ? newest + lines : lines;
    await env.ARCHIVE.put(key, body, { httpMetadata: { contentType: "text/plain" } });
    const stored = await env.ARCHIVE.get(key);
    if (!stored || (await stored.text()) !== body) throw new ShelfReadBackError(key);
  }
  budget.spend(1);
  await deleteIndexRows(env.DB, old).run();
  return { rows: old.length, entries: old.reduce((sum, row) => sum + (objectsOf.get(row)?.length ?? 0), 0) };
}

/** The objects the shelf names for the event with this key (an empty set when nothing is shelved). */
export async function shelvedObjectIds(bucket: R2Bucket, key: number): Promise<Set<number>> {
  const indexBucket = bucketOf(key);
  const ids = new Set<number>();
  const texts = await Promise.all(
    (await shelfObjects(bucket, rangeOf(indexBucket))).map(async (objectKey) => (await bucket.get(objectKey))?.text()),
  );
  for (const text of texts)
    for (const row of readShelfLines(text ?? ""))
      if (row.bucket === indexBucket) for (const id of objectIdsInEntries(row.entries, key)) ids.add(id);
  return ids;
}
