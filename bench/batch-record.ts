/** What the bench entry (bench/worker/index.ts) records and the harness reads back. */

/** One queue invocation as the harness sees it. */
export interface BatchRecord {
  queue: string;
  messages: number;
  acked: number;
  retried: number;
  /** True when the handler threw (the runtime retries the whole batch). */
  threw: boolean;
  d1_round_trips: number;
  duration_ms: number;
  /** Epoch ms the invocation began and ended (workerd's clock, which advances on I/O). */
  started_at: number;
  ended_at: number;
  /** Event ids of main-queue messages the consumer asked to retry. */
  retried_event_ids: string[];
}

/** A message the Worker sent to one of its queues while `capture` was on. */
export interface CapturedMessage {
  queue: string;
  body: unknown;
  delaySeconds: number;
}

/** The cost ledger of one stage of the receiver, kept by the bench entry (bench/worker/ledger.ts). */
export type Stage = "edge" | "events_consumer" | "sender" | "dead_letter" | "crons";

export interface StatementFigures {
  calls: number;
  changes: number;
  rows_read: number;
  rows_written: number;
}

export interface StageLedger {
  invocations: number;
  /** Summed wall time of the stage's invocations (workerd's clock, advancing on I/O). */
  wall_ms: number;
  d1_statements: number;
  /** Statements whose result carried no `meta` (none expected: `first` is answered through `all`). */
  d1_statements_without_meta: number;
  rows_read: number;
  rows_written: number;
  /** Summed `meta.duration` of the stage's statements: the time SQLite spent executing them. */
  sql_ms: number;
  /** Per SQL text (whitespace collapsed). */
  statements: Record<string, StatementFigures>;
  /** Queue messages sent, and the 64 KB chunks they bill as writes. */
  queue_messages_sent: number;
  queue_write_chunks: number;
  /** Deliveries to this stage's consumer (each a read per chunk), acks (deletes), retries. */
  queue_deliveries: number;
  queue_read_chunks: number;
  queue_acks: number;
  queue_delete_chunks: number;
  queue_retries: number;
  /** R2 operations on the archive bucket: class A (put, list, multipart) and class B (get, head). */
  r2_class_a: number;
  r2_class_b: number;
}

/** A ledger of a stage that has done nothing yet. */
export function emptyLedger(): StageLedger {
  return {
    invocations: 0,
    wall_ms: 0,
    d1_statements: 0,
    d1_statements_without_meta: 0,
    rows_read: 0,
    rows_written: 0,
    sql_ms: 0,
    statements: {},
    queue_messages_sent: 0,
    queue_write_chunks: 0,
    queue_deliveries: 0,
    queue_read_chunks: 0,
    queue_acks: 0,
    queue_delete_chunks: 0,
    queue_retries: 0,
    r2_class_a: 0,
    r2_class_b: 0,
  };
}

/** The statement's SQL on one line, the ledger's key; memoised, as the same few statements recur per event. */
const normalized = new Map<string, string>();
function normalize(sql: string): string {
  let key = normalized.get(sql);
  if (key === undefined) {
    key = sql.replace(/\s+/g, " ").trim();
    if (normalized.size < 10_000) normalized.set(sql, key);
  }
  return key;
}

/** Adds one statement's result to `ledger`. */
export function recordResult(ledger: StageLedger, sql: string, result: unknown): void {
  ledger.d1_statements += 1;
  const meta = (
    result as { meta?: { rows_read?: number; rows_written?: number; changes?: number; duration?: number } } | null
  )?.meta;
  if (!meta) {
    ledger.d1_statements_without_meta += 1;
    return;
  }
  addFigures(ledger.statements, normalize(sql), {
    calls: 1,
    changes: meta.changes ?? 0,
    rows_read: meta.rows_read ?? 0,
    rows_written: meta.rows_written ?? 0,
  });
  ledger.rows_read += meta.rows_read ?? 0;
  ledger.rows_written += meta.rows_written ?? 0;
  ledger.sql_ms += meta.duration ?? 0;
}

/** Two ledgers of one stage added together (the pass's own cron runs, if any, and the lifetime's). */
export function addLedgers(a: StageLedger, b: StageLedger): StageLedger {
  const sum = emptyLedger();
  for (const key of Object.keys(sum) as (keyof StageLedger)[]) {
    if (key === "statements") continue;
    (sum[key] as number) = ((a[key] as number | undefined) ?? 0) + ((b[key] as number | undefined) ?? 0);
  }
  for (const source of [a, b])
    for (const [sql, figures] of Object.entries(source.statements)) addFigures(sum.statements, sql, figures);
  return sum;
}

/** Adds `figures` to the statement `sql`'s in `statements`. */
function addFigures(statements: Record<string, StatementFigures>, sql: string, figures: StatementFigures): void {
  statements[sql] ??= { calls: 0, changes: 0, rows_read: 0, rows_written: 0 };
  const into = statements[sql];
  into.calls += figures.calls;
  into.changes += figures.changes;
  into.rows_read += figures.rows_read;
  into.rows_written += figures.rows_written;
}

/** R2 bills class A for writes and listings, class B for reads; deletes are free. */
const R2_CLASS_A = new Set(["put", "list", "createMultipartUpload", "resumeMultipartUpload"]);
const R2_CLASS_B = new Set(["get", "head"]);

/** A bucket binding whose operations are counted by R2's billing class into `ledger`. */
export function countingBucket<Bucket extends object>(bucket: Bucket, ledger: StageLedger): Bucket {
  return new Proxy(bucket, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (R2_CLASS_A.has(String(property))) ledger.r2_class_a += 1;
        else if (R2_CLASS_B.has(String(property))) ledger.r2_class_b += 1;
        return value.apply(target, args);
      };
    },
  });
}
