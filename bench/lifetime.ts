/**
 * What an event costs after the pipeline: the daily cron's work on its rows over their life in D1
 * (payload and rendered-text retention and the change feed's purge at 30 days, the archive to R2 at
 * 90, the event index's shelf a year after that), the `crons` stage of the cost section.
 *
 * It runs on the pipeline pass's own D1 once the pass is measured, on a fresh runtime over the same
 * persisted state, and fires the daily cron (`17 3 * * *`, at 03:17 UTC of each simulated day) on the
 * days that work happens, counted from the day of the newest event: day 31; from day 91 a run a day
 * until the archive leaves the event count unchanged (at most {@link ARCHIVE_DAYS}); then
 * {@link SHELF_DAYS} days from a year after the last archive day, so the shelf visits every range.
 * The bench entry's ledger counts the runs as the `crons` stage, their D1 rows by the runtime's own
 * `meta`, their R2 operations, and workerd's CPU over them apart from the pass's.
 *
 * The harness's own audit rows (its admin reads and patient registrations) are deleted first: they
 * are not the events' cost. The 5-minute and minute crons run whatever the volume (1,728 invocations
 * a day), a fixed cost per deployment, not per event, and are not fired here.
 */

import type { StageLedger } from "./batch-record.ts";
import { logLinesBetween } from "./cost.ts";
import { cpuDelta, treeCpu } from "./proc.ts";
import type { RuntimeServer } from "./runtime.ts";

export const DAILY_CRON = "17 3 * * *";
/** Days after the newest event of the first run: payload retention and the change feed (30 days). */
export const RETENTION_DAY = 31;
/** Day of the archive's first run: finished history older than ARCHIVE_AFTER_DAYS (90). */
export const ARCHIVE_DAY = 91;
/** Daily runs the archive gets at most: it stops early once a run moves no event. */
export const ARCHIVE_DAYS = 10;
/** Days after the last archive day the shelf starts: ARCHIVE_INDEX_DAYS (365) and one. */
export const SHELF_AFTER_DAYS = 366;
/** Consecutive days of the shelf: its 256 ranges, 16 a day (src/archive/shelf.ts). */
export const SHELF_DAYS = 16;

const DAY_MS = 86_400_000;
const RUN_AT_MS = (3 * 60 + 17) * 60_000;

/** What latest.json's `pipeline.lifetime` carries. */
export interface LifetimeResult {
  /** Days after the newest event's day on which the daily cron was fired, in order. */
  days: number[];
  failed_runs: number;
  /** Events in D1 before the runs and after them: those left are not final (their entity is open). */
  events_before: number;
  events_left: number;
  /** workerd's CPU over the runs. */
  cpu_ms: number;
}

/** The runs' figures, with what the cost section prices beside the pass's and then drops. */
export interface LifetimeRuns {
  figures: LifetimeResult;
  /** The bench entry's `crons` ledger over the runs. */
  ledger: StageLedger | undefined;
  /** The Worker's log lines over the runs, by message. */
  logLines: Record<string, number>;
}

/**
 * The next day to fire the daily cron on, given the days fired so far and the events left in D1 after
 * each of them from the archive's first day on; null once the shelf's days are done.
 */
export function nextDay(days: readonly number[], eventCounts: readonly number[]): number | null {
  if (days.length === 0) return RETENTION_DAY;
  const archiveDays = days.filter((day) => day >= ARCHIVE_DAY && day < ARCHIVE_DAY + ARCHIVE_DAYS);
  const last = days[days.length - 1]!;
  if (archiveDays.length === 0) return ARCHIVE_DAY;
  const shelfStart = archiveDays[archiveDays.length - 1]! + SHELF_AFTER_DAYS;
  if (last < shelfStart) {
    // Still archiving: one more day unless the last run moved no event, or the days ran out.
    const moved = eventCounts.length < 2 || eventCounts[eventCounts.length - 1]! < eventCounts[eventCounts.length - 2]!;
    if (moved && archiveDays.length < ARCHIVE_DAYS) return last + 1;
    return shelfStart;
  }
  return last + 1 < shelfStart + SHELF_DAYS ? last + 1 : null;
}

/** Fires the daily cron over the pass's D1 as an event's life would, and returns what it took. */
export async function runLifetimeCrons(server: RuntimeServer): Promise<LifetimeRuns> {
  const db = await server.mf.getD1Database("DB");
  const count = async () =>
    Number((await db.prepare("SELECT COUNT(*) AS n FROM events").first<{ n: number }>())?.n ?? 0);
  await db.prepare("DELETE FROM audit").run();
  const newest = await db
    .prepare("SELECT MAX(MAX(received_at), MAX(COALESCE(processed_at, received_at))) AS at FROM events")
    .first<{ at: string | null }>();
  const start = Math.floor(Date.parse(newest?.at ?? new Date().toISOString()) / DAY_MS) * DAY_MS;
  // The ledger so far (the runtime's start) is not the crons'.
  await takeLedger(server);
  const worker = await server.mf.getWorker();
  const eventsBefore = await count();
  const cpuBefore = treeCpu(server.pid);
  const tallyBefore = server.logTally();
  const days: number[] = [];
  const counts: number[] = [];
  let failed = 0;
  for (let day = nextDay(days, counts); day !== null; day = nextDay(days, counts)) {
    const result = await worker
      .scheduled({ cron: DAILY_CRON, scheduledTime: new Date(start + day * DAY_MS + RUN_AT_MS) })
      .catch(() => null);
    if (result?.outcome !== "ok") failed += 1;
    days.push(day);
    if (day >= ARCHIVE_DAY) counts.push(await count());
  }
  const cpu = cpuDelta(cpuBefore, treeCpu(server.pid)).totalMs;
  const logLines = logLinesBetween(tallyBefore, server.logTally());
  const ledgers = await takeLedger(server);
  return {
    figures: {
      days,
      failed_runs: failed,
      events_before: eventsBefore,
      events_left: await count(),
      cpu_ms: Math.round(cpu),
    },
    ledger: ledgers.crons,
    logLines,
  };
}

async function takeLedger(server: RuntimeServer): Promise<Partial<Record<string, StageLedger>>> {
  const response = await fetch(`${server.url}/__bench/ledger`, { signal: AbortSignal.timeout(15_000) });
  return (await response.json()) as Partial<Record<string, StageLedger>>;
}
