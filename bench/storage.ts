/**
 * The `pipeline.storage` figures: D1 bytes per event after the pipeline pass, by table (indexes
 * included, from SQLite's `dbstat`), as stored and once payload retention has run (a copy of the
 * database with every payload and rendered body purged, then vacuumed), and the days until D1's
 * 10 GB per-database limit at 10k and 100k events a day; and D1's steady-state size once the archive
 * runs (with bench/archive.ts's measurement of the job itself).
 */
import { copyFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { ArchiveMeasurement } from "./archive.ts";

/** D1's maximum database size (Workers Paid). */
export const D1_LIMIT_BYTES = 10 * 1000 ** 3;

/** `latest.json`'s `pipeline.storage`. */
export interface StorageResult {
  events: number;
  bytes_per_event: number;
  bytes_per_event_without_payloads: number;
  /** Bytes per event by table, indexes included, as stored. */
  by_table: Record<string, number>;
  retention_days: number;
  /** The compaction horizon the projection's `with_compaction` assumes (EVENT_ROW_RETENTION_DAYS). */
  compaction_days: number;
  /**
   * Days until 10 GB without the archive, keyed by events a day: every row kept with its payload;
   * with the payload purge (the default); and with the purge plus the compaction of final event and
   * notification rows. Audit rows are left out and the change feed counted for CHANGE_FEED_DAYS.
   */
  days_to_limit: Record<string, { without_retention: number; with_retention: number; with_compaction: number }>;
  steady_state: SteadyState;
}

/** The 2 GB goal of issue 26 for D1 at steady state. */
export const STEADY_STATE_GOAL_BYTES = 2 * 1000 ** 3;
/** D1_SIZE_BUDGET_GB's default (src/config/archive.ts), in bytes. */
export const SIZE_BUDGET_BYTES = 2 * 1000 ** 3;
/**
 * Days the change feed keeps a change by default (CHANGE_FEED_DAYS unset: DEFAULT_CHANGE_FEED_DAYS,
 * src/config/retention.ts; a Node test holds the two equal): the feed's tables are purged by age,
 * whatever the archive does.
 */
export const CHANGE_FEED_DAYS = 30;
/**
 * The change feed's tables (issue 25): `changes`, and each destination's deliveries and attempts,
 * deleted once their change leaves the feed. The archive does not move them, so they stay
 * CHANGE_FEED_DAYS whatever ARCHIVE_AFTER_DAYS and the size budget say.
 */
export const FEED_TABLES = ["changes", "clinic_deliveries", "clinic_delivery_attempts"];

/** Bytes per event in D1 (audit excluded): history before and after the payload purge, and the change feed's. */
export interface LiveBytes {
  with_payload: number;
  without_payload: number;
  /** The change feed's tables (FEED_TABLES), kept CHANGE_FEED_DAYS. */
  feed: number;
}

/**
 * D1 at steady state under the size budget: the window ARCHIVE_AFTER_DAYS keeps, unless that passes
 * the budget; then the archive moves the oldest days until it is under (down to a day), so the
 * size is the budget and the window the longest that fits beside `indexBytes` of event index and the
 * change feed (which the archive does not shorten). Over the budget even at one day, it stays there.
 */
export function budgetedSteadyState(
  perDay: number,
  archiveAfterDays: number,
  retentionDays: number,
  live: LiveBytes,
  indexBytes: number,
): { bytes: number; days: number } {
  const window = (days: number) => steadyStateBytes(perDay, days, retentionDays, live) + indexBytes;
  let days = archiveAfterDays;
  while (days > 1 && window(days) > SIZE_BUDGET_BYTES) days -= 1;
  return { bytes: window(days), days };
}

/**
 * D1 once the archive (src/archive/) runs: finished history lives ARCHIVE_AFTER_DAYS in D1, the
 * first PAYLOAD_RETENTION_DAYS of it with payloads. Audit rows are left out (the bench's audit rows
 * come from its own admin checks, not from events; in production they follow staff activity and move
 * to R2 after a year). The event index (`archived_event_buckets`) keeps ARCHIVE_INDEX_DAYS (a year)
 * in D1; older entries go to its shelf in R2 (bench/archive.ts measures both over the years).
 */
export interface SteadyState {
  archive_after_days: number;
  payload_retention_days: number;
  /** Bytes per event in D1 (audit excluded): history before and after the payload purge, and the feed's. */
  live_bytes_per_event: LiveBytes;
  /** Days the change feed's rows stay (CHANGE_FEED_DAYS), whatever the archive window. */
  change_feed_days: number;
  /** D1_SIZE_BUDGET_GB's default: above it the archive also moves history younger than ARCHIVE_AFTER_DAYS. */
  size_budget_gb: number;
  /**
   * Keyed by events a day: the live window's size at ARCHIVE_AFTER_DAYS alone, the longest
   * ARCHIVE_AFTER_DAYS within 2 GB, and with the default settings (the size budget included): D1's
   * size, the days of history it then holds, and the event index counted in it: what D1 keeps of it
   * with the shelf, the most of bench/archive.ts's SHELF_YEARS years (a year's entries when not measured).
   */
  by_volume: Record<
    string,
    {
      gb: number;
      within_2gb: boolean;
      archive_after_days_for_2gb: number;
      index_gb_per_year: number | null;
      with_budget: { gb: number; within_2gb: boolean; days_in_d1: number; index_gb: number | null };
    }
  >;
  archive: ArchiveMeasurement | null;
}

/**
 * Bytes D1 holds at steady state: `archiveAfterDays` of events, the first `retentionDays` with
 * payloads, and CHANGE_FEED_DAYS of the change feed.
 */
export function steadyStateBytes(
  perDay: number,
  archiveAfterDays: number,
  retentionDays: number,
  live: LiveBytes,
): number {
  const withPayload = Math.min(archiveAfterDays, retentionDays);
  const history = withPayload * live.with_payload + (archiveAfterDays - withPayload) * live.without_payload;
  return perDay * (history + CHANGE_FEED_DAYS * live.feed);
}

function steadyState(
  live: SteadyState["live_bytes_per_event"],
  retentionDays: number,
  archive: ArchiveMeasurement | null,
  archiveAfterDays = 90,
): SteadyState {
  const byVolume = (perDay: number) => {
    const bytes = steadyStateBytes(perDay, archiveAfterDays, retentionDays, live);
    let longest = 0;
    while (longest < 3650 && steadyStateBytes(perDay, longest + 1, retentionDays, live) <= STEADY_STATE_GOAL_BYTES)
      longest += 1;
    const indexPerYear = archive ? perDay * 365 * (archive.index_bytes_per_event[String(perDay)] ?? 0) : 0;
    const shelved = archive?.index_shelf?.[String(perDay)]?.d1_gb_by_year ?? [];
    const index = shelved.length === 0 ? indexPerYear : Math.max(...shelved) * 1e9;
    const budgeted = budgetedSteadyState(perDay, archiveAfterDays, retentionDays, live, index);
    return {
      gb: Math.round(bytes / 1e7) / 100,
      within_2gb: bytes <= STEADY_STATE_GOAL_BYTES,
      archive_after_days_for_2gb: longest,
      index_gb_per_year: archive ? Math.round(indexPerYear / 1e7) / 100 : null,
      with_budget: {
        gb: Math.round(budgeted.bytes / 1e7) / 100,
        within_2gb: budgeted.bytes <= STEADY_STATE_GOAL_BYTES,
        days_in_d1: budgeted.days,
        index_gb: archive ? Math.round(index / 1e7) / 100 : null,
      },
    };
  };
  return {
    archive_after_days: archiveAfterDays,
    payload_retention_days: retentionDays,
    size_budget_gb: SIZE_BUDGET_BYTES / 1e9,
    live_bytes_per_event: live,
    change_feed_days: CHANGE_FEED_DAYS,
    by_volume: Object.fromEntries([10_000, 100_000].map((perDay) => [String(perDay), byVolume(perDay)])),
    archive,
  };
}

/** The SQLite file of the run's D1 under Miniflare's persistence directory (the largest one). */
export function findDatabaseFile(persist: string): string {
  const files: string[] = [];
  const walk = (directory: string) => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".sqlite")) files.push(path);
    }
  };
  walk(persist);
  if (files.length === 0) throw new Error(`no D1 database under ${persist}`);
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
}

/** The tables whose final rows the row compaction deletes (src/db/compaction.ts). */
const COMPACTED_TABLES = ["events", "notifications", "notification_status_history"];

/** Bytes per table (its indexes added to it), for the application's tables only. */
function tableBytes(db: DatabaseSync): Record<string, number> {
  const owners = new Map<string, string>();
  for (const row of db.prepare("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')").all())
    owners.set(String(row.name), String(row.tbl_name));
  const bytes: Record<string, number> = {};
  for (const row of db.prepare("SELECT name, SUM(pgsize) AS size FROM dbstat GROUP BY name").all()) {
    const table = owners.get(String(row.name)) ?? String(row.name);
    if (table.startsWith("_cf_") || table.startsWith("sqlite_") || table === "d1_migrations") continue;
    bytes[table] = (bytes[table] ?? 0) + Number(row.size);
  }
  return bytes;
}

/** The bytes of `tables` in `bytes` (a table absent counts 0). */
const tablesBytes = (bytes: Record<string, number>, tables: string[]) =>
  tables.reduce((total, table) => total + (bytes[table] ?? 0), 0);

const sum = (record: Record<string, number>) => Object.values(record).reduce((total, value) => total + value, 0);

/**
 * Days until `limit` at `perDay` events a day: without retention every event keeps `full` bytes;
 * with it, only the last `retentionDays` of events keep their payloads. `feed` bytes per event of
 * change feed stay CHANGE_FEED_DAYS whatever else is kept, so they take a fixed share of the limit.
 */
export function daysToLimit(
  perDay: number,
  full: number,
  withoutPayload: number,
  retentionDays: number,
  feed = 0,
  limit = D1_LIMIT_BYTES,
) {
  const room = limit - perDay * CHANGE_FEED_DAYS * feed;
  const withoutRetention = room / (perDay * full);
  // The first `retentionDays` fill at the full rate; after that each day adds the purged size.
  const window = perDay * retentionDays * full;
  const withRetention = window >= room ? withoutRetention : retentionDays + (room - window) / (perDay * withoutPayload);
  return { without_retention: Math.floor(withoutRetention), with_retention: Math.floor(withRetention) };
}

/** Measures `file` (the D1 database after a run; Miniflare must be stopped) in `scratch`. */
export function measureStorage(
  file: string,
  scratch: string,
  retentionDays = 30,
  compactionDays = 14,
  archive: ArchiveMeasurement | null = null,
): StorageResult {
  const stored = new DatabaseSync(file, { readOnly: true });
  const events = Number(stored.prepare("SELECT COUNT(*) AS n FROM events").get()?.n ?? 0);
  const asStored = tableBytes(stored);
  stored.close();
  const copy = join(scratch, "purged.sqlite");
  copyFileSync(file, copy);
  const purged = new DatabaseSync(copy);
  // What the daily retention job leaves (src/scheduled/retention.ts): ids, types, statuses and times.
  purged.exec("UPDATE events SET payload = NULL; UPDATE notifications SET rendered = NULL; VACUUM;");
  const withoutPayloads = tableBytes(purged);
  purged.close();
  const perEvent = (bytes: number) => Math.round(bytes / Math.max(1, events));
  const full = perEvent(sum(asStored));
  const bare = perEvent(sum(withoutPayloads));
  // Compaction deletes event and notification rows after `compactionDays` (a notification's status
  // history goes with it, migration 0015); the rest stays for good.
  const compacted = (bytes: Record<string, number>) => tablesBytes(bytes, COMPACTED_TABLES);
  const feed = (bytes: Record<string, number>) => tablesBytes(bytes, FEED_TABLES);
  // Audit rows are left out (the bench's come from its own admin checks) and the change feed is a
  // window of CHANGE_FEED_DAYS: neither grows with the events kept.
  const live: LiveBytes = {
    with_payload: perEvent(sum(asStored) - (asStored.audit ?? 0) - feed(asStored)),
    without_payload: perEvent(sum(withoutPayloads) - (withoutPayloads.audit ?? 0) - feed(withoutPayloads)),
    feed: perEvent(feed(asStored)),
  };
  const compactable = perEvent(compacted(asStored));
  const permanent = live.without_payload - perEvent(compacted(withoutPayloads));
  const withCompaction = (perDay: number) =>
    Math.floor(
      (D1_LIMIT_BYTES - perDay * (compactionDays * compactable + CHANGE_FEED_DAYS * live.feed)) /
        (perDay * Math.max(1, permanent)),
    );
  return {
    events,
    bytes_per_event: full,
    bytes_per_event_without_payloads: bare,
    by_table: Object.fromEntries(Object.entries(asStored).map(([table, bytes]) => [table, perEvent(bytes)])),
    retention_days: retentionDays,
    compaction_days: compactionDays,
    days_to_limit: Object.fromEntries(
      [10_000, 100_000].map((perDay) => [
        String(perDay),
        {
          ...daysToLimit(perDay, live.with_payload, live.without_payload, retentionDays, live.feed),
          with_compaction: withCompaction(perDay),
        },
      ]),
    ),
    steady_state: steadyState(live, retentionDays, archive),
  };
}
