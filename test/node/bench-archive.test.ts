import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  loadArchiveModule,
  measureArchive,
  measureIndexAtScale,
  measureIndexBefore,
  measureShelfAtScale,
} from "../../bench/archive.ts";
import {
  budgetedSteadyState,
  CHANGE_FEED_DAYS,
  daysToLimit,
  STEADY_STATE_GOAL_BYTES,
  steadyStateBytes,
} from "../../bench/storage.ts";

const root = path.resolve(import.meta.dirname, "../..");

describe("bench: D1's steady state with the archive", () => {
  it("holds ARCHIVE_AFTER_DAYS of events, the first PAYLOAD_RETENTION_DAYS of them with payloads", () => {
    const live = { with_payload: 2500, without_payload: 1700, feed: 0 };
    expect(steadyStateBytes(100_000, 90, 30, live)).toBe(100_000 * (30 * 2500 + 60 * 1700));
    expect(steadyStateBytes(100_000, 7, 30, live)).toBe(100_000 * 7 * 2500);
    expect(steadyStateBytes(100_000, 7, 30, live)).toBeLessThanOrEqual(STEADY_STATE_GOAL_BYTES);
  });

  it("with the size budget holds the longest window within 2 GB beside the event index, or ARCHIVE_AFTER_DAYS", () => {
    const live = { with_payload: 2500, without_payload: 1700, feed: 0 };
    // 100k a day: the default 90 days would be 17.7 GB; the budget keeps 8 days (2 GB).
    expect(budgetedSteadyState(100_000, 90, 30, live, 0)).toEqual({ bytes: 100_000 * 8 * 2500, days: 8 });
    // A year of event index (1 GB) leaves room for 4 days.
    expect(budgetedSteadyState(100_000, 90, 30, live, 1e9)).toEqual({ bytes: 2e9, days: 4 });
    // 10k a day: under the budget at 90 days, the budget changes nothing.
    expect(budgetedSteadyState(10_000, 90, 30, live, 0)).toEqual({
      bytes: steadyStateBytes(10_000, 90, 30, live),
      days: 90,
    });
  });
});

describe("bench: the change feed in D1's steady state", () => {
  it("keeps the receiver's default CHANGE_FEED_DAYS of the feed whatever the archive window", () => {
    // The receiver's constant, read from its source (a Node test cannot import the Worker's modules).
    const source = readFileSync(path.join(root, "src/config/retention.ts"), "utf8");
    expect(source.match(/export const DEFAULT_CHANGE_FEED_DAYS = (\d+);/)?.[1]).toBe(String(CHANGE_FEED_DAYS));
    const live = { with_payload: 2500, without_payload: 1700, feed: 300 };
    const feed = 100_000 * CHANGE_FEED_DAYS * 300;
    expect(steadyStateBytes(100_000, 90, 30, live)).toBe(100_000 * (30 * 2500 + 60 * 1700) + feed);
    expect(steadyStateBytes(100_000, 7, 30, live)).toBe(100_000 * 7 * 2500 + feed);
  });

  it("leaves the budget less room for history, and stays over it when the feed and the index alone fill it", () => {
    const live = { with_payload: 2500, without_payload: 1700, feed: 300 };
    // 0.9 GB of feed beside 2 GB: 4 days of history (1 GB) where the budget kept 8 without a feed.
    expect(budgetedSteadyState(100_000, 90, 30, live, 0)).toEqual({ bytes: 1.9e9, days: 4 });
    // With a year of event index (1 GB) even one day (0.25 GB) passes it: a day is the least kept.
    expect(budgetedSteadyState(100_000, 90, 30, live, 1e9)).toEqual({ bytes: 2.15e9, days: 1 });
  });
});

describe("bench: days until D1's 10 GB without the archive", () => {
  it("counts the change feed as a window of CHANGE_FEED_DAYS, not as growth", () => {
    expect(daysToLimit(100_000, 2500, 1500, 30)).toEqual({ without_retention: 40, with_retention: 46 });
    // 300 bytes a event of feed for 30 days take 0.9 GB of the 10 GB: 9.1 GB at 2,500 bytes a day is
    // 36 days; with the purge, 30 days (7.5 GB) and then 1.6 GB at 1,500 bytes, 10 more.
    expect(daysToLimit(100_000, 2500, 1500, 30, 300)).toEqual({ without_retention: 36, with_retention: 40 });
    expect(CHANGE_FEED_DAYS).toBe(30);
  });
});

describe("bench: the archive job on a D1 copy (bench/archive.ts)", () => {
  let scratch: string;
  beforeEach(() => {
    scratch = mkdtempSync(path.join(tmpdir(), "bench-archive-"));
  });
  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  it("runs the real job to the end and counts what moved to R2", { timeout: 60_000 }, async () => {
    const file = path.join(scratch, "d1.sqlite");
    const database = new DatabaseSync(file);
    for (const migration of readdirSync(path.join(root, "migrations")).sort())
      database.exec(readFileSync(path.join(root, "migrations", migration), "utf8"));
    const insert = database.prepare(
      `INSERT INTO events (event_id, event_type, clinic_id, status, attempts, occurred_at, received_at, payload_hash)
       VALUES (?, 'order:created', 'clinic-a', ?, 1, ?, ?, 'hash')`,
    );
    for (let index = 0; index < 30; index += 1) {
      const at = `2026-03-0${1 + (index % 3)}T10:00:00.${String(index).padStart(3, "0")}Z`;
      insert.run(`evt_${index}`, index === 0 ? "dead" : "processed", at, at);
    }
    database.close();

    const measured = await measureArchive(file, scratch, 90, []);
    expect(measured).toMatchObject({ events_archived: 29, events_left: 1, objects: 3, entities_indexed_per_event: 0 });
    expect(measured.r2_bytes_per_event).toBeGreaterThan(0);
    expect(measured.index_bytes_per_event).toEqual({});
    expect(measured.index_shelf).toEqual({});
    expect(measured.index_bytes_per_event_before).toBeGreaterThan(0);
    expect(measured.d1_queries_per_100k_events).toBeGreaterThan(0);
  });

  it("fills the receiver's own table through its own statement, and repeats exactly", { timeout: 60_000 }, async () => {
    const module = await loadArchiveModule(scratch);
    const bytes = measureIndexAtScale(module, scratch, 10_000);
    // 8 characters an entry, plus the rows' and pages' share; a row per event would be about 17.
    expect(bytes).toBeGreaterThanOrEqual(8);
    expect(bytes).toBeLessThan(measureIndexBefore(scratch));
    expect(measureIndexAtScale(module, scratch, 10_000)).toBe(bytes);
    // Each archived entity's entry sits beside its events': half an entity an event, about 1.5 times.
    const withEntities = measureIndexAtScale(module, scratch, 10_000, { entitiesPerEvent: 0.5 });
    expect(withEntities / bytes).toBeGreaterThan(1.35);
    expect(withEntities / bytes).toBeLessThan(1.65);
  });

  it("shelves the closed rows through the receiver's own step, leaving D1 less than the same keys unshelved", {
    timeout: 120_000,
  }, async () => {
    const module = await loadArchiveModule(scratch);
    // 40,000 events a day fill a bucket's row in about 200 days; ARCHIVE_INDEX_DAYS=90 lets a year shelve.
    const shelf = await measureShelfAtScale(module, scratch, 40_000, { years: 1, indexDays: 90 });
    const [shelved = 0] = shelf.d1_gb_by_year;
    const [unshelved = 0] = shelf.d1_gb_by_year_without_shelf;
    expect(shelved).toBeGreaterThan(0);
    expect(shelved).toBeLessThan(unshelved);
    // 8 characters an entry, plus `<bucket>.<seq> ` and a newline a line of 120.
    expect(shelf.r2_bytes_per_event).toBeGreaterThanOrEqual(8);
    expect(shelf.r2_bytes_per_event).toBeLessThan(8.2);
  });
});
