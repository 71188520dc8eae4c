/**
 * The archive figures of `pipeline.storage` (src/archive/): the real archive job, bundled from
 * src/archive/run.ts, run in this process on a copy of the pipeline pass's D1 through a small D1
 * adapter over node:sqlite and an in-memory R2, at an instant when every finished row is older
 * than ARCHIVE_AFTER_DAYS. It measures R2 bytes per event, the index bytes per event it leaves in
 * D1, the D1 queries and the time per 100,000 events (node:sqlite in this process, so no network
 * round trips: a floor, not workerd's figure), and what stays (unfinished history).
 */
import { copyFileSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { ROOT } from "./servers.ts";

export interface ArchiveMeasurement {
  events_archived: number;
  events_left: number;
  /** Archived entities per archived event: each has an entry in the index beside the events'. */
  entities_indexed_per_event: number;
  objects: number;
  r2_bytes_per_event: number;
  /**
   * The event index and the objects' manifest (`archived_event_buckets`, `archive_objects`) per
   * archived event after a year at each volume (events a day): what keeps growing. Measured at scale
   * ({@link measureIndexAtScale}), since the pass's few thousand events leave mostly empty pages.
   */
  index_bytes_per_event: Record<string, number>;
  /** The same for the index before migration 0183 (`archived_events`, a row per event), measured alike. */
  index_bytes_per_event_before: number;
  /** The index in D1 over {@link SHELF_YEARS} years with and without its shelf in R2, per volume. */
  index_shelf: Record<string, ShelfMeasurement>;
  d1_queries_per_100k_events: number;
  /** Daily-sized runs (600 D1 queries each) the job needs per 100,000 events. */
  runs_per_100k_events: number;
  job_seconds_per_100k_events: number;
}

interface ArchiveRun {
  objects: number;
  resumed: number;
  queries: number;
}
type ArchiveJob = (env: object, now: Date, options: { queryBudget: number }) => Promise<ArchiveRun>;
type IndexStatement = (
  db: ReturnType<typeof nodeD1>,
  events: { eventId: string; key: number }[],
  objectId: number,
) => { runNow(): number };
interface ArchiveModule {
  archiveFinishedHistory: ArchiveJob;
  indexArchivedEvents: IndexStatement;
  INDEX_BUCKET_SHIFT: number;
  shelveRange: (
    env: object,
    budget: object,
    range: number,
    cutoff: string,
  ) => Promise<{ rows: number; entries: number }>;
  rangesOfDay: (now: Date) => number[];
  QueryBudget: new (queries: number) => object;
}

/** D1's statement API over node:sqlite: what the archive code calls (numbered `?N` parameters). */
class NodeStatement {
  private parameters: SQLInputValue[] = [];
  private readonly statement: StatementSync;
  constructor(statement: StatementSync) {
    this.statement = statement;
  }
  bind(...values: unknown[]): NodeStatement {
    const bound = new NodeStatement(this.statement);
    bound.parameters = values.map((value) => (value === undefined ? null : (value as SQLInputValue)));
    return bound;
  }
  async first<T>(): Promise<T | null> {
    return (this.statement.get(...this.parameters) as T | undefined) ?? null;
  }
  async all<T>(): Promise<{ results: T[]; meta: { changes: number } }> {
    return { results: this.statement.all(...this.parameters) as T[], meta: { changes: 0 } };
  }
  async run(): Promise<{ results: []; meta: { changes: number } }> {
    return { results: [], meta: { changes: this.runNow() } };
  }
  runNow(): number {
    return Number(this.statement.run(...this.parameters).changes);
  }
}

function nodeD1(database: DatabaseSync) {
  return {
    prepare: (sql: string) => new NodeStatement(database.prepare(sql)),
    async batch(statements: NodeStatement[]) {
      database.exec("BEGIN");
      try {
        const results = statements.map((statement) => ({ results: [], meta: { changes: statement.runNow() } }));
        database.exec("COMMIT");
        return results;
      } catch (error) {
        database.exec("ROLLBACK");
        throw error;
      }
    },
  };
}

/** The R2 calls the archive makes, in memory. */
function memoryR2() {
  const objects = new Map<string, { body: Uint8Array; customMetadata: Record<string, string> }>();
  const view = (key: string) => {
    const object = objects.get(key);
    if (!object) return null;
    const { body, customMetadata } = object;
    return {
      key,
      size: body.byteLength,
      customMetadata,
      arrayBuffer: async () => body.slice().buffer,
      text: async () => new TextDecoder().decode(body),
    };
  };
  return {
    objects,
    async put(key: string, body: Uint8Array | string, options: { customMetadata?: Record<string, string> } = {}) {
      const bytes = typeof body === "string" ? new TextEncoder().encode(body) : new Uint8Array(body);
      objects.set(key, { body: bytes, customMetadata: options.customMetadata ?? {} });
      return view(key);
    },
    get: async (key: string) => view(key),
    head: async (key: string) => view(key),
    async list({ prefix = "", limit = 1000 }: { prefix?: string; limit?: number }) {
      const keys = [...objects.keys()].filter((key) => key.startsWith(prefix)).sort();
      return { objects: keys.slice(0, limit).map((key) => ({ key })), truncated: keys.length > limit };
    },
    async delete(keys: string | string[]) {
      for (const key of Array.isArray(keys) ? keys : [keys]) objects.delete(key);
    },
  };
}

export async function loadArchiveModule(scratch: string): Promise<ArchiveModule> {
  const outfile = join(scratch, "archive-job.mjs");
  await build({
    stdin: {
      contents: `export { archiveFinishedHistory } from "./src/archive/run.ts";
export { QueryBudget } from "./src/archive/objects.ts";
export { rangesOfDay, shelveRange } from "./src/archive/shelf.ts";
export { indexArchivedEvents, INDEX_BUCKET_SHIFT } from "./src/db/archive.ts";`,
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    outfile,
    logLevel: "silent",
  });
  return (await import(pathToFileURL(outfile).href)) as ArchiveModule;
}

const tableBytes = (database: DatabaseSync, tables: readonly string[]) =>
  count(
    database,
    `SELECT SUM(pgsize) AS n FROM dbstat WHERE name IN (
       SELECT name FROM sqlite_master WHERE tbl_name IN (${tables.map((table) => `'${table}'`).join(", ")}))`,
  );

/** A seeded generator (mulberry32): the index measurements repeat exactly from run to run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Events per archive object (ARCHIVE_PART_PAGES pages of ARCHIVE_PAGE_ROWS), and per index statement. */
const OBJECT_EVENTS = 5000;
const CHUNK_EVENTS = 1000;
/** Buckets filled by the at-scale measurement: 1/256 of the 65,536 (the first range), scaled up. */
const SAMPLED_BUCKETS = 256;
const SAMPLED_SHARE = SAMPLED_BUCKETS / 2 ** 16;

/** A scratch database holding the event index only, filled day by day as the archive job would. */
class IndexScratch {
  readonly database: DatabaseSync;
  readonly db: ReturnType<typeof nodeD1>;
  /** Sampled events indexed so far (each with its entities' entries). */
  events = 0;
  private readonly record: StatementSync;
  private readonly bucketSpan: number;
  private readonly module: ArchiveModule;
  private readonly perDay: number;
  private readonly random: () => number;
  private readonly entitiesPerEvent: number;

  /**
   * `entitiesPerEvent`: the archived entities' entries per archived event (orders, medication requests
   * and refills are indexed too, in the same buckets, 8 characters an entry like an event's).
   */
  constructor(module: ArchiveModule, file: string, perDay: number, random: () => number, entitiesPerEvent = 0) {
    this.module = module;
    this.perDay = perDay;
    this.random = random;
    this.entitiesPerEvent = entitiesPerEvent;
    rmSync(file, { force: true });
    this.database = new DatabaseSync(file);
    this.database.exec(readFileSync(join(ROOT, "migrations/0060_archive.sql"), "utf8"));
    this.database.exec(readFileSync(join(ROOT, "migrations/0183_archived_event_buckets.sql"), "utf8"));
    // The statement indexes only events still in D1: one stands for all (the key is the entry).
    this.database.exec(
      "CREATE TABLE events (event_id TEXT PRIMARY KEY) WITHOUT ROWID; INSERT INTO events VALUES ('evt')",
    );
    this.db = nodeD1(this.database);
    this.record = this.database.prepare(
      `INSERT INTO archive_objects (object_key, kind, clinic_id, day, part, state, line_count, bytes, written_at, deleted_at)
       VALUES (?, 'history', ?, ?, ?, 'deleted', ?, ?, ?, ?) RETURNING object_id`,
    );
    this.bucketSpan = 2 ** module.INDEX_BUCKET_SHIFT;
  }

  /** Day `day` (from 2026-01-01): its objects recorded and their sampled keys indexed; returns its ISO instant. */
  indexDay(day: number): string {
    const clinic = "3f2b6c1e-8a4d-4f0e-9c5b-2d7a1e6f4b90";
    const date = new Date(Date.UTC(2026, 0, 1) + day * 86_400_000).toISOString().slice(0, 10);
    const at = `${date}T03:17:00.000Z`;
    // One transaction a day: the file's page layout is the same, without a sync per statement.
    this.database.exec("BEGIN");
    for (let part = 0; part * OBJECT_EVENTS < this.perDay; part += 1) {
      const inObject = Math.min(OBJECT_EVENTS, this.perDay - part * OBJECT_EVENTS);
      const row = this.record.get(
        `history/${clinic}/${date}/part-${part}.ndjson.gz`,
        clinic,
        date,
        part,
        inObject * 4,
        inObject * 263,
        at,
        at,
      ) as { object_id: number };
      for (let start = 0; start < inObject; start += CHUNK_EVENTS) {
        // The chunk's events that fall in the sampled buckets: a binomial draw, one by one.
        const keys: { eventId: string; key: number }[] = [];
        const sampledKey = () => {
          const bucket = Math.floor(this.random() * SAMPLED_BUCKETS);
          return { eventId: "evt", key: bucket * this.bucketSpan + Math.floor(this.random() * this.bucketSpan) };
        };
        for (let index = start; index < Math.min(inObject, start + CHUNK_EVENTS); index += 1) {
          // An entity's entry is an event's, bytes for bytes: both go through the event statement here.
          const fraction = this.entitiesPerEvent % 1;
          const entities = Math.floor(this.entitiesPerEvent) + (fraction > 0 && this.random() < fraction ? 1 : 0);
          for (let entity = 0; entity < entities; entity += 1)
            if (this.random() < SAMPLED_SHARE) keys.push(sampledKey());
          if (this.random() >= SAMPLED_SHARE) continue;
          keys.push(sampledKey());
          this.events += 1;
        }
        if (keys.length > 0) this.module.indexArchivedEvents(this.db, keys, row.object_id).runNow();
      }
    }
    this.database.exec("COMMIT");
    return at;
  }

  /**
   * D1 bytes of the whole index scaled up from the sample: the bucket rows and the pages their
   * deletes freed (a D1 file keeps them, and later rows reuse them), plus the manifest (not sampled).
   */
  indexBytes(): number {
    const pageSize = count(this.database, "SELECT page_size AS n FROM pragma_page_size");
    const free = count(this.database, "SELECT freelist_count AS n FROM pragma_freelist_count") * pageSize;
    return (tableBytes(this.database, ["archived_event_buckets"]) + free) / SAMPLED_SHARE + this.manifestBytes();
  }

  manifestBytes(): number {
    return tableBytes(this.database, ["archive_objects"]);
  }
}

/**
 * The event index after a year at `perDay` events a day, measured on a scratch database with the
 * receiver's own DDL (migrations 0060 and 0183) and its own statement (`indexArchivedEvents`): day
 * by day, objects of 5,000 events recorded in `archive_objects`, each indexed in statements of 1,000
 * events as the job does, with random 53-bit keys; only the keys of 256 of the 65,536 buckets are
 * written (the other buckets' rows are alike) and their bytes scaled up, while every object's
 * manifest row is written. No VACUUM: pages as a year of appends leaves them. Bytes per event.
 */
export function measureIndexAtScale(
  module: ArchiveModule,
  scratch: string,
  perDay: number,
  { random = seededRandom(26), entitiesPerEvent = 0 }: { random?: () => number; entitiesPerEvent?: number } = {},
): number {
  const index = new IndexScratch(module, join(scratch, `index-${perDay}.sqlite`), perDay, random, entitiesPerEvent);
  try {
    for (let day = 0; day < 365; day += 1) index.indexDay(day);
    const buckets = tableBytes(index.database, ["archived_event_buckets"]) / SAMPLED_SHARE;
    return Math.round(((buckets + index.manifestBytes()) / (index.events / SAMPLED_SHARE)) * 10) / 10;
  } finally {
    index.database.close();
  }
}

/** The event index with its shelf (src/archive/shelf.ts) over the years, at one volume. */
export interface ShelfMeasurement {
  /** D1's event index at the end of each year (GB, free pages and the manifest included). */
  d1_gb_by_year: number[];
  /** The same without the shelf: every year's entries stay. */
  d1_gb_by_year_without_shelf: number[];
  /** R2 bytes of the shelf per event it holds. */
  r2_bytes_per_event: number;
}

/**
 * The index of {@link measureIndexAtScale} kept for `years` with the daily run's shelf: the sampled
 * buckets are exactly range 0, which the real `shelveRange` visits on the days `rangesOfDay` names,
 * at ARCHIVE_INDEX_DAYS `indexDays` (default 365), into an in-memory R2; beside it the same keys (the same
 * seed) without the shelf. Bytes at the end of each year.
 */
export async function measureShelfAtScale(
  module: ArchiveModule,
  scratch: string,
  perDay: number,
  {
    years = 3,
    indexDays = 365,
    seed = 27,
    entitiesPerEvent = 0,
  }: { years?: number; indexDays?: number; seed?: number; entitiesPerEvent?: number } = {},
): Promise<ShelfMeasurement> {
  const scratchOf = (name: string) =>
    new IndexScratch(module, join(scratch, `${name}-${perDay}.sqlite`), perDay, seededRandom(seed), entitiesPerEvent);
  const index = scratchOf("shelf");
  const unshelved = scratchOf("unshelved");
  const bucket = memoryR2();
  const env = { DB: index.db, ARCHIVE: bucket };
  const result: ShelfMeasurement = { d1_gb_by_year: [], d1_gb_by_year_without_shelf: [], r2_bytes_per_event: 0 };
  const gb = (bytes: number) => Math.round(bytes / 1e7) / 100;
  let shelvedEntries = 0;
  try {
    for (let day = 0; day < 365 * years; day += 1) {
      const at = index.indexDay(day);
      unshelved.indexDay(day);
      if (module.rangesOfDay(new Date(at)).includes(0)) {
        const cutoff = new Date(Date.parse(at) - indexDays * 86_400_000).toISOString();
        shelvedEntries += (await module.shelveRange(env, new module.QueryBudget(3), 0, cutoff)).entries;
      }
      if ((day + 1) % 365 === 0) {
        result.d1_gb_by_year.push(gb(index.indexBytes()));
        result.d1_gb_by_year_without_shelf.push(gb(unshelved.indexBytes()));
      }
    }
  } finally {
    index.database.close();
    unshelved.database.close();
  }
  const r2Bytes = [...bucket.objects.values()].reduce((total, object) => total + object.body.byteLength, 0);
  result.r2_bytes_per_event = shelvedEntries > 0 ? Math.round((r2Bytes / shelvedEntries) * 10) / 10 : 0;
  return result;
}

/** The index before migration 0183, a row per event in `archived_events`, filled with random keys alike. */
export function measureIndexBefore(scratch: string, events = 200_000, random: () => number = seededRandom(26)): number {
  const file = join(scratch, "index-before.sqlite");
  rmSync(file, { force: true });
  const database = new DatabaseSync(file);
  try {
    database.exec(readFileSync(join(ROOT, "migrations/0060_archive.sql"), "utf8"));
    const insert = database.prepare("INSERT OR IGNORE INTO archived_events (event_key, object_id) VALUES (?, ?)");
    database.exec("BEGIN");
    for (let index = 0; index < events; index += 1)
      insert.run(Math.floor(random() * 2 ** 53), 1 + Math.floor(index / OBJECT_EVENTS));
    database.exec("COMMIT");
    return Math.round((tableBytes(database, ["archived_events"]) / events) * 10) / 10;
  } finally {
    database.close();
  }
}

const count = (database: DatabaseSync, sql: string) => Number(database.prepare(sql).get()?.n ?? 0);

/** Years of the shelf measurement: at 10k events a day a bucket's row takes about two to fill. */
export const SHELF_YEARS = 4;

/** Events a day the index is measured at (bench/storage.ts projects D1 at the same volumes). */
export const INDEX_VOLUMES = [10_000, 100_000] as const;

/** Runs the archive job to the end on a copy of `file` (the pipeline's D1); see the module comment. */
export async function measureArchive(
  file: string,
  scratch: string,
  archiveAfterDays = 90,
  indexVolumes: readonly number[] = INDEX_VOLUMES,
): Promise<ArchiveMeasurement> {
  const copy = join(scratch, "archived.sqlite");
  copyFileSync(file, copy);
  const database = new DatabaseSync(copy);
  const module = await loadArchiveModule(scratch);
  const archiveJob = module.archiveFinishedHistory;
  const bucket = memoryR2();
  const eventsBefore = count(database, "SELECT COUNT(*) AS n FROM events");
  const entities = () =>
    count(
      database,
      "SELECT (SELECT COUNT(*) FROM orders) + (SELECT COUNT(*) FROM medication_requests) + (SELECT COUNT(*) FROM refills) AS n",
    );
  const entitiesBefore = entities();
  const newest = String(database.prepare("SELECT MAX(received_at) AS at FROM events").get()?.at ?? "");
  const now = new Date(Date.parse(newest) + (archiveAfterDays + 1) * 86_400_000);
  const env = { DB: nodeD1(database), ARCHIVE: bucket, ARCHIVE_AFTER_DAYS: String(archiveAfterDays) };
  let queries = 0;
  let objects = 0;
  const log = console.log;
  console.log = () => {}; // the job's JSON log lines
  const started = performance.now();
  try {
    for (;;) {
      const result = await archiveJob(env, now, { queryBudget: 600 });
      queries += result.queries;
      objects += result.objects;
      if (result.objects === 0 && result.resumed === 0) break;
    }
  } finally {
    console.log = log;
  }
  const seconds = (performance.now() - started) / 1000;
  const eventsLeft = count(database, "SELECT COUNT(*) AS n FROM events");
  const entitiesArchived = entitiesBefore - entities();
  database.close();
  const archived = Math.max(1, eventsBefore - eventsLeft);
  // Entities are indexed beside their events since 2026-12-04 (the entity routes read them back).
  const entitiesPerEvent = Math.round((entitiesArchived / archived) * 1000) / 1000;
  const r2Bytes = [...bucket.objects.values()].reduce((total, object) => total + object.body.byteLength, 0);
  const per100k = (value: number) => (value * 100_000) / archived;
  const shelf: Record<string, ShelfMeasurement> = {};
  for (const perDay of indexVolumes)
    shelf[String(perDay)] = await measureShelfAtScale(module, scratch, perDay, {
      years: SHELF_YEARS,
      entitiesPerEvent,
    });
  return {
    events_archived: eventsBefore - eventsLeft,
    events_left: eventsLeft,
    entities_indexed_per_event: entitiesPerEvent,
    objects,
    r2_bytes_per_event: Math.round(r2Bytes / archived),
    index_bytes_per_event: Object.fromEntries(
      indexVolumes.map((perDay) => [
        String(perDay),
        measureIndexAtScale(module, scratch, perDay, { entitiesPerEvent }),
      ]),
    ),
    index_bytes_per_event_before: measureIndexBefore(scratch),
    index_shelf: shelf,
    d1_queries_per_100k_events: Math.round(per100k(queries)),
    runs_per_100k_events: Math.ceil(per100k(queries) / 600),
    job_seconds_per_100k_events: Math.round(per100k(seconds) * 10) / 10,
  };
}
