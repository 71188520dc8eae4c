import { BUDGET_FLOOR_DAYS, readArchiveSettings } from "../config/archive";
import { databaseBytes, pendingArchiveObjects, releaseArchiveLease, takeArchiveLease } from "../db/archive";
import { errorKind, log } from "../log";
import { archiveAuditPart, auditPartQueries, expireAuditObjects } from "./audit";
import { type BackfillResult, backfillArchivedEntities } from "./entity-backfill";
import { archiveHistoryPart, historyPartQueries } from "./history";
import {
  type ArchiveContext,
  ArchiveReadBackError,
  deleteArchivedLines,
  deleteQueries,
  QueryBudget,
  readBack,
} from "./objects";
import { SHELF_STEP_QUERIES, shelveRange } from "./shelf";

/**
 * The archive job (docs/operations.md "Archive"): finishes objects a previous run left `written`,
 * then moves finished history older than ARCHIVE_AFTER_DAYS to R2; while D1 is still larger than
 * D1_SIZE_BUDGET_GB, also the oldest finished history younger than that (down to a day old), oldest
 * first; then audit rows older than a year; part by part, while its D1 query budget lasts; then
 * expires audit objects past AUDIT_RETENTION_DAYS. Each run first indexes the entities of a few
 * objects archived before entities were indexed (src/archive/entity-backfill.ts). The daily run also
 * shelves in R2 the event index's entries older than ARCHIVE_INDEX_DAYS (src/archive/shelf.ts), a few
 * ranges a day, before the parts.
 */

/**
 * The daily run's share of the invocation's 1,000 D1 queries: retention, compaction, the inbound
 * replies' and the change feed's purges use at most ~390, which leaves 60 to spare.
 */
export const DAILY_ARCHIVE_QUERIES = 550;
/** The 5-minute catch-up's share: a backlog the daily run could not finish drains through the day. */
export const CATCH_UP_ARCHIVE_QUERIES = 100;
/** Rows per D1 read and per guarded delete. */
export const ARCHIVE_PAGE_ROWS = 1000;
/** Pages of events (and of each entity table) per object: up to 5,000 events. */
export const ARCHIVE_PART_PAGES = 5;
/** How long a run holds the lease: a cron invocation's wall-time limit. */
const LEASE_MS = 15 * 60_000;

export interface ArchiveRunOptions {
  queryBudget: number;
  pageRows?: number;
  partPages?: number;
  /** Ranges of the event index to shelve (src/archive/shelf.ts): the day's own, or none (the catch-up). */
  shelfRanges?: readonly number[];
  /** D1's size in bytes (default: the database's own `meta.size_after`); tests inject one. */
  databaseBytes?: (db: D1Database) => Promise<number | null>;
}

export interface ArchiveRunResult {
  /** True when another run held the lease. */
  skipped: boolean;
  objects: number;
  lines: number;
  deleted: number;
  resumed: number;
  auditObjectsExpired: number;
  queries: number;
  /** Rows deleted from history younger than ARCHIVE_AFTER_DAYS because D1 was over its size budget. */
  budgetDeleted: number;
  /** D1's size in bytes after the history parts (null when not measured or not reported). */
  databaseBytes: number | null;
  /** Closed rows of the event index shelved in R2 and deleted from D1, and the entries they held. */
  shelvedRows: number;
  shelvedEntries: number;
  /** Objects archived before entities were indexed whose entities this run indexed (migration 0187). */
  entityBackfill: BackfillResult;
}

/** Runs the archive job at `now` within `options.queryBudget` D1 queries. */
export async function archiveFinishedHistory(
  env: Env,
  now: Date,
  options: ArchiveRunOptions,
): Promise<ArchiveRunResult> {
  const { archiveAfterDays, sizeBudgetBytes, indexDays } = readArchiveSettings(env);
  const daysBefore = (days: number) => new Date(now.getTime() - days * 86_400_000).toISOString();
  const cutoff = daysBefore(archiveAfterDays);
  const budgetCutoff = daysBefore(BUDGET_FLOOR_DAYS);
  const measure = options.databaseBytes ?? databaseBytes;
  const budget = new QueryBudget(options.queryBudget);
  const context: ArchiveContext = { env, now, budget, pageRows: options.pageRows ?? ARCHIVE_PAGE_ROWS };
  const partPages = options.partPages ?? ARCHIVE_PART_PAGES;
  const result: ArchiveRunResult = {
    skipped: false,
    objects: 0,
    lines: 0,
    deleted: 0,
    resumed: 0,
    auditObjectsExpired: 0,
    queries: 0,
    budgetDeleted: 0,
    databaseBytes: null,
    shelvedRows: 0,
    shelvedEntries: 0,
    entityBackfill: { objects: 0, entities: 0, unreadable: 0 },
  };
  const leaseUntil = now.getTime() + LEASE_MS;
  budget.spend(2); // the lease and its release
  if (!(await takeArchiveLease(env.DB, now.getTime(), leaseUntil))) {
    log.info("archive skipped", { reason: "another run holds the lease" });
    return { ...result, skipped: true, queries: 1 };
  }
  try {
    result.resumed = await resumeWrittenObjects(context, result);
    result.entityBackfill = await backfillArchivedEntities(context);
    await shelveIndex(context, options.shelfRanges ?? [], daysBefore(indexDays), result);
    while (budget.remaining >= historyPartQueries(partPages)) {
      if (!tally(result, await archiveHistoryPart(context, cutoff, partPages))) break;
    }
    // The size budget: one size read, then one more after each part it archives.
    if (budget.remaining >= 1 && cutoff < budgetCutoff) {
      budget.spend(1);
      result.databaseBytes = await measure(env.DB);
      while (
        result.databaseBytes !== null &&
        result.databaseBytes > sizeBudgetBytes &&
        budget.remaining >= historyPartQueries(partPages) + 1
      ) {
        const before = result.deleted;
        if (!tally(result, await archiveHistoryPart(context, budgetCutoff, partPages))) {
          // Nothing finished older than a day is left: D1 holds more live data than the budget.
          log.warn("archive over the D1 size budget with nothing left to archive", {
            d1_bytes: result.databaseBytes,
            budget_bytes: sizeBudgetBytes,
          });
          break;
        }
        result.budgetDeleted += result.deleted - before;
        budget.spend(1);
        result.databaseBytes = await measure(env.DB);
      }
    }
    while (budget.remaining >= auditPartQueries(partPages)) {
      if (!tally(result, await archiveAuditPart(context, partPages))) break;
    }
    if (budget.remaining >= 1) result.auditObjectsExpired = await expireAuditObjects(context);
  } finally {
    await releaseArchiveLease(env.DB, leaseUntil);
  }
  result.queries = options.queryBudget - budget.remaining;
  log.info("archive", {
    archive_after_days: archiveAfterDays,
    objects: result.objects,
    lines: result.lines,
    deleted: result.deleted,
    resumed: result.resumed,
    audit_objects_expired: result.auditObjectsExpired,
    queries: result.queries,
    d1_bytes: result.databaseBytes,
    budget_deleted: result.budgetDeleted,
    shelved_rows: result.shelvedRows,
    entity_backfill_objects: result.entityBackfill.objects,
  });
  return result;
}

/**
 * Shelves the index's old entries of `ranges`, one range at a time while the budget lasts. A step that
 * fails (R2 down, a read-back that differs) leaves its rows in D1 and ends the shelving for this run;
 * the history parts go on.
 */
async function shelveIndex(
  context: ArchiveContext,
  ranges: readonly number[],
  cutoff: string,
  result: ArchiveRunResult,
): Promise<void> {
  for (const range of ranges) {
    if (context.budget.remaining < SHELF_STEP_QUERIES) return;
    try {
      const step = await shelveRange(context.env, context.budget, range, cutoff);
      result.shelvedRows += step.rows;
      result.shelvedEntries += step.entries;
    } catch (error) {
      log.warn("archive index shelf step failed", { range, error: errorKind(error) });
      return;
    }
  }
}

/**
 * Adds a part to the run's counts; false when there was none, or when it deleted nothing (every row
 * changed after it was read: they go on a later run rather than spin this one).
 */
function tally(result: ArchiveRunResult, part: { lines: number; deleted: number } | null): boolean {
  if (!part) return false;
  result.objects += 1;
  result.lines += part.lines;
  result.deleted += part.deleted;
  return part.deleted > 0;
}

/**
 * Finishes the objects a run left `written` (it died after recording, before or while deleting): reads
 * each back and deletes what it lists. An object that cannot be read back is logged and left for
 * the operator (docs/operations.md); its rows stay in D1.
 */
async function resumeWrittenObjects(context: ArchiveContext, result: ArchiveRunResult): Promise<number> {
  const { env, budget } = context;
  if (budget.remaining < 2) return 0;
  budget.spend(1);
  const pending = await pendingArchiveObjects(env.DB, 10);
  let resumed = 0;
  for (const object of pending) {
    let lines: Awaited<ReturnType<typeof readBack>>;
    try {
      lines = await readBack(env.ARCHIVE, object.object_key, object.line_count);
    } catch (error) {
      if (!(error instanceof ArchiveReadBackError)) throw error;
      log.error("archive object unreadable", { object_id: object.object_id, error: errorKind(error) });
      continue;
    }
    if (deleteQueries(lines, context.pageRows) > budget.remaining) break;
    result.deleted += await deleteArchivedLines(context, object.object_id, lines);
    resumed += 1;
  }
  return resumed;
}
