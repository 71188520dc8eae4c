import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { archiveFinishedHistory } from "../../src/archive/run";
import { readArchiveSettings } from "../../src/config/archive";
import { ConfigError } from "../../src/config/read";
import { TEST_NOW } from "../helpers/clock";
import {
  archivedLines,
  countWhereIn,
  failingBucket,
  idCounts,
  newClinic,
  type SeededDay,
  seedFinishedDay,
} from "./helpers";

/**
 * The D1 size budget (issue 26.3): above D1_SIZE_BUDGET_GB the archive also moves the oldest finished
 * history younger than ARCHIVE_AFTER_DAYS, oldest first, until D1 is under it; nothing younger than a day.
 */

const now = new Date(TEST_NOW); // 2026-01-15T15:00Z: the default 90-day cutoff is 2025-10-17
/** A few KB: any D1 is over it, so the job archives everything finished and a day old. */
const TINY_BUDGET = { D1_SIZE_BUDGET_GB: "0.000001" };

const run = (
  overrides: Partial<Env> = {},
  options: { databaseBytes?: (db: D1Database) => Promise<number | null> } = {},
) => archiveFinishedHistory({ ...env, ...overrides }, now, { queryBudget: 600, ...options });

async function expectArchivedOnce(clinic: string, seeded: SeededDay) {
  const { lines } = await archivedLines(`history/${clinic}/`);
  const events = idCounts(lines, "events", "event_id");
  const notifications = idCounts(lines, "notifications", "notification_id");
  expect(seeded.eventIds.map((id) => events.get(id))).toEqual(seeded.eventIds.map(() => 1));
  expect(seeded.notificationIds.map((id) => notifications.get(id))).toEqual(seeded.notificationIds.map(() => 1));
  expect(await countWhereIn("events", "event_id", seeded.eventIds)).toBe(0);
  expect(await countWhereIn("notifications", "notification_id", seeded.notificationIds)).toBe(0);
  expect(await countWhereIn("orders", "order_id", seeded.orderIds)).toBe(0);
}

async function expectInD1(seeded: SeededDay) {
  expect(await countWhereIn("events", "event_id", seeded.eventIds)).toBe(seeded.eventIds.length);
  expect(await countWhereIn("orders", "order_id", seeded.orderIds)).toBe(seeded.orderIds.length);
}

describe("the D1 size budget", () => {
  it("leaves history younger than ARCHIVE_AFTER_DAYS in D1 while D1 is under the budget (default 2 GB)", async () => {
    const clinic = newClinic();
    const seeded = await seedFinishedDay(clinic, "2026-01-08", 2);
    const result = await run();
    await expectInD1(seeded);
    expect(result.budgetDeleted).toBe(0);
    // The size is the database's own (meta.size_after), well under the default.
    expect(result.databaseBytes).toBeGreaterThan(0);
    expect(result.databaseBytes).toBeLessThan(2_000_000_000);
  });

  it("archives the oldest finished days first and stops once D1 is under the budget", async () => {
    const clinic = newClinic();
    const oldest = await seedFinishedDay(clinic, "2025-11-20", 2);
    const middle = await seedFinishedDay(clinic, "2025-12-10", 2);
    const newest = await seedFinishedDay(clinic, "2025-12-30", 2);
    // Over the 2 GB default before each of the first two parts, under after them.
    const sizes = [3e9, 2.5e9, 1e9];
    const result = await run({}, { databaseBytes: async () => sizes.shift() ?? 1e9 });
    expect(sizes).toEqual([]);
    await expectArchivedOnce(clinic, oldest);
    await expectArchivedOnce(clinic, middle);
    await expectInD1(newest);
    expect(result.budgetDeleted).toBeGreaterThan(0);
    expect(result.databaseBytes).toBe(1e9);
  });

  it("over a budget it cannot reach, archives every finished day older than a day, never a younger one; idempotent", async () => {
    const clinic = newClinic();
    const weekOld = await seedFinishedDay(clinic, "2026-01-08", 3);
    const today = await seedFinishedDay(clinic, "2026-01-15", 2); // 5 hours old
    const first = await run(TINY_BUDGET);
    expect(first.budgetDeleted).toBeGreaterThan(0);
    await expectArchivedOnce(clinic, weekOld);
    await expectInD1(today);
    // A second run finds nothing more to move and rewrites nothing.
    const before = await archivedLines(`history/${clinic}/`);
    const second = await run(TINY_BUDGET);
    expect(second.objects).toBe(0);
    expect(second.budgetDeleted).toBe(0);
    expect((await archivedLines(`history/${clinic}/`)).keys).toEqual(before.keys);
    await expectArchivedOnce(clinic, weekOld);
    await expectInD1(today);
  });

  for (const step of ["put", "put-then-crash", "read-back", "corrupt-read-back"] as const) {
    it(`loses and duplicates nothing of a budget part when the ${step} fails, finishing on the next run`, async () => {
      const clinic = newClinic();
      const seeded = await seedFinishedDay(clinic, "2026-01-10", 3);
      const failed = await run({ ...TINY_BUDGET, ARCHIVE: failingBucket(step) }).catch(() => null);
      expect(failed?.budgetDeleted ?? 0).toBe(0);
      await expectInD1(seeded);
      for (let runs = 0; runs < 5; runs += 1) {
        const result = await run(TINY_BUDGET);
        if (result.objects === 0 && result.resumed === 0) break;
      }
      await expectArchivedOnce(clinic, seeded);
    });
  }
});

describe("D1_SIZE_BUDGET_GB", () => {
  it("defaults to 2 GB, takes a fraction, and refuses what is not a positive number", () => {
    expect(readArchiveSettings({ ...env, D1_SIZE_BUDGET_GB: "" }).sizeBudgetBytes).toBe(2_000_000_000);
    expect(readArchiveSettings({ ...env, D1_SIZE_BUDGET_GB: "0.5" }).sizeBudgetBytes).toBe(500_000_000);
    for (const bad of ["0", "-1", "two", "Infinity"])
      expect(() => readArchiveSettings({ ...env, D1_SIZE_BUDGET_GB: bad })).toThrow(ConfigError);
  });
});
