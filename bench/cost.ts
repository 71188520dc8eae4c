/**
 * What a million events cost on Cloudflare, from the pipeline pass's ledger (bench/worker/ledger.ts).
 *
 * Method, per stage (edge, events consumer, sender, dead-letter consumer, crons):
 * - D1 rows written and read: the runtime's own `meta.rows_written` / `meta.rows_read` of every
 *   statement, summed. Checked against D1's documented billing rule recomputed from the SQL:
 *   each row a statement changes (`meta.changes`) counts once, plus once for every index on its
 *   table whose columns the write touches (INSERT and DELETE: every index; UPDATE: the indexes with a
 *   column the SET assigns; an upsert counts as an insert, its upper bound). Rows written by triggers
 *   are not in `meta.changes`, so the rule undercounts statements that fire one.
 * - Queues: a write per 64 KB chunk of each message sent, a read per chunk per delivery (so each
 *   retry's delivery is another read), a delete per chunk acked.
 * - Workers: one request per invocation (each HTTP delivery, each queue batch, each cron run) and the
 *   workerd CPU of the pass split over the stages by their share of invocation time; a stage measured
 *   apart (the lifetime crons, bench/lifetime.ts) carries its own.
 * - R2 (the archive bucket): class A and class B operations as the bench entry counts them.
 * - Workers Logs (wrangler.toml enables `observability`): a log event per invocation (its invocation
 *   log) and per line the Worker writes. A stage carries its invocation logs; the Worker's lines are
 *   counted by the harness as they arrive, by what they say, and priced in the total only (a line does
 *   not say which invocation wrote it).
 * Priced at the marginal Workers Paid list prices of `PRICES_DATE` (no included amounts, no $5 base).
 */

import { DatabaseSync } from "node:sqlite";
import type { Stage, StageLedger, StatementFigures } from "./batch-record.ts";

export const PRICES_DATE = "2026-12-01";
/** US dollars per unit, Workers Paid, beyond the included amounts. */
export const PRICES = {
  worker_request: 0.3 / 1e6,
  worker_cpu_ms: 0.02 / 1e6,
  queue_operation: 0.4 / 1e6,
  d1_row_written: 1.0 / 1e6,
  d1_row_read: 0.001 / 1e6,
  d1_gb_month: 0.75,
  /** Workers Logs, per log event beyond the 20 million a month included. */
  workers_log_event: 0.6 / 1e6,
  /** R2 (the archive): class A operations (put, list) and class B (get, head); deletes are free. */
  r2_class_a: 4.5 / 1e6,
  r2_class_b: 0.36 / 1e6,
} as const;

/** Per-message provider fees listed beside the price, not in it (list prices of PRICES_DATE). */
export const PROVIDER_FEES = {
  sms_usd_per_message: 0.0083, // Twilio US SMS, one segment, before carrier fees
  email_usd_per_message: 0.0004, // Resend Pro: $20 for 50,000 emails a month, per email at the cap
} as const;

export const STAGES: Stage[] = ["edge", "events_consumer", "sender", "dead_letter", "crons"];

/** Each table's indexes, as the columns each covers. */
export type IndexMap = Record<string, string[][]>;

interface ParsedWrite {
  kind: "insert" | "update" | "delete";
  table: string;
  /** UPDATE: the columns assigned (both of the upsert's parts for an upsert, counted as an insert). */
  columns: string[];
}

/** The table and the columns a write statement touches; null for a read. */
export function parseWrite(sql: string): ParsedWrite | null {
  const text = sql.replace(/\s+/g, " ").trim();
  const insert = /^(?:INSERT|REPLACE)\b(?: OR \w+)? INTO "?(\w+)"?/i.exec(text);
  if (insert) return { kind: "insert", table: insert[1]!, columns: [] };
  const del = /^DELETE FROM "?(\w+)"?/i.exec(text);
  if (del) return { kind: "delete", table: del[1]!, columns: [] };
  const update = /^UPDATE(?: OR \w+)? "?(\w+)"? SET (.*?)(?: WHERE | FROM | RETURNING |$)/i.exec(text);
  if (update) {
    const columns = [...update[2]!.matchAll(/(?:^|,)\s*"?(\w+)"?\s*=/g)].map((match) => match[1]!);
    return { kind: "update", table: update[1]!, columns };
  }
  return null;
}

/** A month of D1 storage for a million events at `bytesPerEvent` (GB = 10^9 bytes). */
export function storageUsdPerMillionEventsMonth(bytesPerEvent: number): number {
  return round(((bytesPerEvent * 1e6) / 1e9) * PRICES.d1_gb_month, 3);
}

/** Rows written by D1's billing rule for one statement's summed figures. */
export function billedRowsWritten(sql: string, figures: StatementFigures, indexes: IndexMap): number {
  const write = parseWrite(sql);
  if (!write || figures.changes === 0) return 0;
  const tableIndexes = indexes[write.table] ?? [];
  const touched =
    write.kind === "update"
      ? tableIndexes.filter((columns) => columns.some((column) => write.columns.includes(column))).length
      : tableIndexes.length;
  return figures.changes * (1 + touched);
}

export interface StageCost {
  invocations_per_event: number;
  cpu_ms_per_event: number;
  d1_rows_written_per_event: number;
  /** The same by the billing rule recomputed from the SQL (see the method above). */
  d1_rows_written_by_rule_per_event: number;
  d1_rows_read_per_event: number;
  /** Time SQLite spent executing the stage's statements (D1's `meta.duration`), per event. */
  d1_sql_ms_per_event: number;
  queue_operations_per_event: number;
  /** R2 operations (class A and B) on the archive bucket, per event. */
  r2_operations_per_event: number;
  usd_per_million_events: number;
}

export interface CostResult {
  prices_date: string;
  events: number;
  usd_per_million_events: number;
  d1_rows_written_per_event: number;
  /**
   * The same without the `crons` stage: what the event's way through the pipeline writes (edge, events
   * consumer, sender, dead-letter consumer), the scope of the first measurement (issue 26.2's baseline).
   */
  d1_rows_written_per_event_in_pipeline: number;
  d1_rows_read_per_event: number;
  queue_operations_per_event: number;
  /** R2 operations (class A and B) on the archive bucket, per event. */
  r2_operations_per_event: number;
  worker_invocations_per_event: number;
  cpu_ms_per_event: number;
  /** Time SQLite spent executing every stage's statements (D1's `meta.duration`), per event. */
  d1_sql_ms_per_event: number;
  /** D1 storage of a million events for one month at the measured bytes per event. */
  storage_usd_per_million_events_month: number | null;
  by_stage: Partial<Record<Stage, StageCost>>;
  /** Dollars per million events by what is billed. */
  by_item: {
    worker_requests: number;
    worker_cpu: number;
    queues: number;
    d1_rows_written: number;
    d1_rows_read: number;
    workers_logs: number;
    r2_operations: number;
  };
  /** Workers Logs' events: an invocation log per invocation, and the Worker's own lines by message. */
  workers_logs: {
    log_events_per_event: number;
    invocation_logs_per_event: number;
    lines_per_event: number;
    /** The Worker's lines per event by message (a request line by its route), most first. */
    lines_by_message: { message: string; per_event: number }[];
  };
  provider_fees: typeof PROVIDER_FEES & {
    sms_per_event: number;
    emails_per_event: number;
    usd_per_million_events: number;
  };
  /** Statements whose `meta` was missing (counted, not priced). */
  statements_without_meta: number;
  /** The ten statements writing the most rows per event, by the runtime's meta. */
  top_writes: { stage: Stage; sql: string; rows_written_per_event: number; by_rule_per_event: number }[];
  /** The statements that read the most rows (D1 bills reads too, and SQLite spends the CPU). */
  top_reads: { stage: Stage; sql: string; rows_read_per_event: number; calls_per_event: number }[];
}

const round = (value: number, digits = 4) => Math.round(value * 10 ** digits) / 10 ** digits;

export function queueOperations(ledger: StageLedger): number {
  return ledger.queue_write_chunks + ledger.queue_read_chunks + ledger.queue_delete_chunks;
}

/** Dollars for the given counts. */
export function priceOf(counts: {
  requests: number;
  cpu_ms: number;
  queue_operations: number;
  rows_written: number;
  rows_read: number;
  log_events: number;
  r2_class_a?: number;
  r2_class_b?: number;
}) {
  const items = {
    worker_requests: counts.requests * PRICES.worker_request,
    worker_cpu: counts.cpu_ms * PRICES.worker_cpu_ms,
    queues: counts.queue_operations * PRICES.queue_operation,
    d1_rows_written: counts.rows_written * PRICES.d1_row_written,
    d1_rows_read: counts.rows_read * PRICES.d1_row_read,
    workers_logs: counts.log_events * PRICES.workers_log_event,
    r2_operations: (counts.r2_class_a ?? 0) * PRICES.r2_class_a + (counts.r2_class_b ?? 0) * PRICES.r2_class_b,
  };
  return { items, total: Object.values(items).reduce((sum, value) => sum + value, 0) };
}

/**
 * The cost section: `ledgers` from the bench entry, `events` the unique events accepted, `cpuMs` the
 * workerd CPU of the pass (split over the stages by invocation time, but for those of `stageCpuMs`,
 * measured apart: the lifetime crons), `bytesPerEvent` D1's storage,
 * `logLines` the Worker's log lines over the pass by message (none when not counted).
 */
export function computeCost(input: {
  ledgers: Partial<Record<Stage, StageLedger>>;
  events: number;
  cpuMs: number | null;
  stageCpuMs?: Partial<Record<Stage, number>>;
  indexes: IndexMap;
  bytesPerEvent: number | null;
  smsSent: number;
  emailsSent: number;
  logLines?: Record<string, number>;
}): CostResult {
  const { ledgers, events, indexes } = input;
  const logLines = input.logLines ?? {};
  const per = (value: number) => value / Math.max(1, events);
  const apart = input.stageCpuMs ?? {};
  const splitStages = STAGES.filter((stage) => apart[stage] === undefined);
  const totalWall = splitStages.reduce((sum, stage) => sum + (ledgers[stage]?.wall_ms ?? 0), 0);
  const byStage: Partial<Record<Stage, StageCost>> = {};
  const totals = {
    requests: 0,
    cpu_ms: 0,
    queue_operations: 0,
    rows_written: 0,
    rows_read: 0,
    r2_class_a: 0,
    r2_class_b: 0,
  };
  let withoutMeta = 0;
  let sqlMs = 0;
  const top: CostResult["top_writes"] = [];
  const topReads: CostResult["top_reads"] = [];
  for (const stage of STAGES) {
    const ledger = ledgers[stage];
    if (!ledger) continue;
    const cpu =
      apart[stage] ?? (input.cpuMs !== null && totalWall > 0 ? (input.cpuMs * ledger.wall_ms) / totalWall : 0);
    const byRule = Object.entries(ledger.statements).reduce(
      (sum, [sql, figures]) => sum + billedRowsWritten(sql, figures, indexes),
      0,
    );
    for (const [sql, figures] of Object.entries(ledger.statements)) {
      const statement = { stage, sql: sql.slice(0, 160) };
      if (figures.rows_read > 0)
        topReads.push({
          ...statement,
          rows_read_per_event: round(per(figures.rows_read)),
          calls_per_event: round(per(figures.calls)),
        });
      if (figures.rows_written > 0)
        top.push({
          ...statement,
          rows_written_per_event: round(per(figures.rows_written)),
          by_rule_per_event: round(per(billedRowsWritten(sql, figures, indexes))),
        });
    }
    const counts = {
      requests: ledger.invocations,
      cpu_ms: cpu,
      queue_operations: queueOperations(ledger),
      rows_written: ledger.rows_written,
      rows_read: ledger.rows_read,
      r2_class_a: ledger.r2_class_a ?? 0,
      r2_class_b: ledger.r2_class_b ?? 0,
    };
    for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += counts[key];
    withoutMeta += ledger.d1_statements_without_meta;
    sqlMs += ledger.sql_ms ?? 0;
    byStage[stage] = {
      invocations_per_event: round(per(counts.requests)),
      cpu_ms_per_event: round(per(cpu)),
      d1_rows_written_per_event: round(per(counts.rows_written)),
      d1_rows_written_by_rule_per_event: round(per(byRule)),
      d1_rows_read_per_event: round(per(counts.rows_read)),
      d1_sql_ms_per_event: round(per(ledger.sql_ms ?? 0)),
      queue_operations_per_event: round(per(counts.queue_operations)),
      r2_operations_per_event: round(per(counts.r2_class_a + counts.r2_class_b)),
      // A stage's log events are its invocation logs, one per invocation; the lines are priced below.
      usd_per_million_events: round(per(priceOf({ ...counts, log_events: counts.requests }).total) * 1e6, 3),
    };
  }
  const lines = Object.values(logLines).reduce((sum, count) => sum + count, 0);
  const logEvents = totals.requests + lines;
  const price = priceOf({ ...totals, log_events: logEvents });
  const sms = per(input.smsSent);
  const emails = per(input.emailsSent);
  return {
    prices_date: PRICES_DATE,
    events,
    usd_per_million_events: round(per(price.total) * 1e6, 3),
    d1_rows_written_per_event: round(per(totals.rows_written)),
    d1_rows_written_per_event_in_pipeline: round(per(totals.rows_written - (ledgers.crons?.rows_written ?? 0))),
    d1_rows_read_per_event: round(per(totals.rows_read)),
    queue_operations_per_event: round(per(totals.queue_operations)),
    r2_operations_per_event: round(per(totals.r2_class_a + totals.r2_class_b)),
    worker_invocations_per_event: round(per(totals.requests)),
    cpu_ms_per_event: round(per(totals.cpu_ms)),
    d1_sql_ms_per_event: round(per(sqlMs)),
    storage_usd_per_million_events_month:
      input.bytesPerEvent === null ? null : storageUsdPerMillionEventsMonth(input.bytesPerEvent),
    by_stage: byStage,
    by_item: Object.fromEntries(
      Object.entries(price.items).map(([key, value]) => [key, round(per(value) * 1e6, 3)]),
    ) as CostResult["by_item"],
    workers_logs: {
      log_events_per_event: round(per(logEvents)),
      invocation_logs_per_event: round(per(totals.requests)),
      lines_per_event: round(per(lines)),
      lines_by_message: Object.entries(logLines)
        .map(([message, count]) => ({ message, per_event: round(per(count)) }))
        .sort((a, b) => b.per_event - a.per_event)
        .slice(0, 10),
    },
    provider_fees: {
      ...PROVIDER_FEES,
      sms_per_event: round(sms),
      emails_per_event: round(emails),
      usd_per_million_events: round(
        (sms * PROVIDER_FEES.sms_usd_per_message + emails * PROVIDER_FEES.email_usd_per_message) * 1e6,
        0,
      ),
    },
    statements_without_meta: withoutMeta,
    top_writes: top.sort((a, b) => b.rows_written_per_event - a.rows_written_per_event).slice(0, 10),
    top_reads: topReads.sort((a, b) => b.rows_read_per_event - a.rows_read_per_event).slice(0, 10),
  };
}

/**
 * What a Worker log line says, to count lines by: its JSON `message`, with the matched route for a
 * request line (`request /webhooks/novamed`), so the harness's own admin reads can be told apart.
 */
export function logLineKey(line: string): string {
  try {
    const parsed = JSON.parse(line) as { message?: unknown; route?: unknown };
    if (typeof parsed.message !== "string") return "(no message)";
    return parsed.message === "request" && typeof parsed.route === "string"
      ? `request ${parsed.route}`
      : parsed.message;
  } catch {
    return "(not JSON)";
  }
}

/** Log lines written between two tallies, without those of the harness's own requests (admin reads). */
export function logLinesBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const lines: Record<string, number> = {};
  for (const [key, count] of Object.entries(after)) {
    if (key.startsWith("request /admin") || key.startsWith("request /__bench")) continue;
    const written = count - (before[key] ?? 0);
    if (written > 0) lines[key] = written;
  }
  return lines;
}

/** Two tallies by key added together. */
export function addCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const sum = { ...a };
  for (const [key, count] of Object.entries(b)) sum[key] = (sum[key] ?? 0) + count;
  return sum;
}

/** Each table's indexes (automatic ones for UNIQUE and PRIMARY KEY included) from a D1 file. */
export function readIndexes(file: string): IndexMap {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const map: IndexMap = {};
    const tables = db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
      )
      .all() as { name: string }[];
    for (const { name } of tables) {
      const list = db.prepare(`SELECT name, origin FROM pragma_index_list(?)`).all(name) as { name: string }[];
      map[name] = list.map((index) =>
        (db.prepare(`SELECT name FROM pragma_index_info(?)`).all(index.name) as { name: string | null }[])
          .map((column) => column.name ?? "")
          .filter(Boolean),
      );
    }
    return map;
  } finally {
    db.close();
  }
}
