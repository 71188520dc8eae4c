/**
 * The archive figures of `pipeline.storage` (src/archive/): the real archive job, bundled from
 * src/archive/run.ts, run in this process on a copy of the pipeline pass's D1 through a small D1
 * adapter over node:sqlite and an in-memory R2, at an instant when every finished row is older
 * than ARCHIVE_AFTER_DAYS. It measures R2 bytes per event, the index bytes per event it leaves in
 * D1, the D1 queries and the time per 100,000 events (node:sqlite in this process, so no network
 * round trips: a floor, not workerd's figure), and what stays (unfinished history).
 */
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { ROOT } from "./servers.ts";

export interface ArchiveMeasurement {
  events_archived: number;
  events_left: number;
  objects: number;
  r2_bytes_per_event: number;
  /** `archived_events` and `archive_objects`, indexes included, per archived event: what keeps growing. */
  index_bytes_per_event: number;
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
    return { key, size: body.byteLength, customMetadata, arrayBuffer: async () => body.slice().buffer };
  };
  return {
    objects,
    async put(key: string, body: Uint8Array, options: { customMetadata?: Record<string, string> } = {}) {
      objects.set(key, { body: new Uint8Array(body), customMetadata: options.customMetadata ?? {} });
      return view(key);
    },
    get: async (key: string) => view(key),
    head: async (key: string) => view(key),
    async list({ prefix = "", limit = 1000 }: { prefix?: string; limit?: number }) {
      const keys = [...objects.keys()].filter((key) => key.startsWith(prefix)).sort();
      return { objects: keys.slice(0, limit).map((key) => ({ key })) };
    },
    async delete(keys: string | string[]) {
      for (const key of Array.isArray(keys) ? keys : [keys]) objects.delete(key);
    },
  };
}

async function loadArchiveJob(scratch: string): Promise<ArchiveJob> {
  const outfile = join(scratch, "archive-job.mjs");
  await build({
    entryPoints: [join(ROOT, "src/archive/run.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    outfile,
    logLevel: "silent",
  });
  const module = (await import(pathToFileURL(outfile).href)) as { archiveFinishedHistory: ArchiveJob };
  return module.archiveFinishedHistory;
}

const count = (database: DatabaseSync, sql: string) => Number(database.prepare(sql).get()?.n ?? 0);

/** Runs the archive job to the end on a copy of `file` (the pipeline's D1); see the module comment. */
export async function measureArchive(
  file: string,
  scratch: string,
  archiveAfterDays = 90,
): Promise<ArchiveMeasurement> {
  const copy = join(scratch, "archived.sqlite");
  copyFileSync(file, copy);
  const database = new DatabaseSync(copy);
  const archiveJob = await loadArchiveJob(scratch);
  const bucket = memoryR2();
  const eventsBefore = count(database, "SELECT COUNT(*) AS n FROM events");
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
  database.exec("VACUUM");
  const indexBytes = count(
    database,
    `SELECT SUM(pgsize) AS n FROM dbstat WHERE name IN (
       SELECT name FROM sqlite_master WHERE tbl_name IN ('archived_events', 'archive_objects'))`,
  );
  database.close();
  const archived = Math.max(1, eventsBefore - eventsLeft);
  const r2Bytes = [...bucket.objects.values()].reduce((total, object) => total + object.body.byteLength, 0);
  const per100k = (value: number) => (value * 100_000) / archived;
  return {
    events_archived: eventsBefore - eventsLeft,
    events_left: eventsLeft,
    objects,
    r2_bytes_per_event: Math.round(r2Bytes / archived),
    index_bytes_per_event: Math.round(indexBytes / archived),
    d1_queries_per_100k_events: Math.round(per100k(queries)),
    runs_per_100k_events: Math.ceil(per100k(queries) / 600),
    job_seconds_per_100k_events: Math.round(per100k(seconds) * 10) / 10,
  };
}
