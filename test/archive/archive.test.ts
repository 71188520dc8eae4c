import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { findArchivedEvent } from "../../src/archive/lookup";
import { archiveFinishedHistory } from "../../src/archive/run";
import { readArchiveSettings } from "../../src/config/archive";
import { ConfigError } from "../../src/config/read";
import { ALL_CLINICS } from "../../src/db/scope";
import worker from "../../src/index";
import { CRONS } from "../../src/scheduled/dispatch";
import { TEST_NOW } from "../helpers/clock";
import { uniqueId } from "../helpers/events";
import {
  archivedLines,
  countingDatabase,
  countWhereIn,
  failingBucket,
  idCounts,
  insertEvent,
  newClinic,
  type SeededDay,
  seedFinishedDay,
} from "./helpers";

const now = new Date(TEST_NOW); // 2026-01-15: the default 90-day cutoff is 2025-10-17
const run = (
  overrides: Partial<Env> = {},
  options: { queryBudget?: number; pageRows?: number; partPages?: number } = {},
) => archiveFinishedHistory({ ...env, ...overrides }, now, { queryBudget: 600, ...options });

/** Runs the healthy job until it finds nothing more to do. */
async function drain(options: { pageRows?: number; partPages?: number } = {}) {
  for (let runs = 0; runs < 20; runs += 1) {
    const result = await run({}, options);
    if (result.objects === 0 && result.resumed === 0) return;
  }
  throw new Error("the archive did not finish in 20 runs");
}

/** The clinic's history is in R2 exactly once and out of D1. */
async function expectArchivedExactlyOnce(clinic: string, seeded: SeededDay) {
  const { lines } = await archivedLines(`history/${clinic}/`);
  const events = idCounts(lines, "events", "event_id");
  const notifications = idCounts(lines, "notifications", "notification_id");
  const orders = idCounts(lines, "orders", "order_id");
  expect(seeded.eventIds.map((id) => events.get(id))).toEqual(seeded.eventIds.map(() => 1));
  expect(seeded.notificationIds.map((id) => notifications.get(id))).toEqual(seeded.notificationIds.map(() => 1));
  expect(seeded.orderIds.map((id) => orders.get(id))).toEqual(seeded.orderIds.map(() => 1));
  // Two status history rows per notification (sent, delivered), each once.
  expect(lines.filter((line) => line.table === "notification_status_history")).toHaveLength(
    seeded.notificationIds.length * 2,
  );
  expect(await countWhereIn("events", "event_id", seeded.eventIds)).toBe(0);
  expect(await countWhereIn("notifications", "notification_id", seeded.notificationIds)).toBe(0);
  expect(await countWhereIn("notification_status_history", "notification_id", seeded.notificationIds)).toBe(0);
  expect(await countWhereIn("orders", "order_id", seeded.orderIds)).toBe(0);
}

async function expectAllStillInD1(seeded: SeededDay) {
  expect(await countWhereIn("events", "event_id", seeded.eventIds)).toBe(seeded.eventIds.length);
  expect(await countWhereIn("notifications", "notification_id", seeded.notificationIds)).toBe(
    seeded.notificationIds.length,
  );
  expect(await countWhereIn("orders", "order_id", seeded.orderIds)).toBe(seeded.orderIds.length);
}

describe("archive of finished history to R2", () => {
  it("moves a clinic's finished day into one gzipped NDJSON object, read back, then deleted from D1", async () => {
    const clinic = newClinic();
    const seeded = await seedFinishedDay(clinic, "2025-08-03", 4);
    const recent = await seedFinishedDay(clinic, "2025-12-20", 1);
    const deadId = uniqueId("evt_dead");
    await insertEvent(deadId, clinic, "2025-08-03T12:00:00.000Z", "dead").run();

    await drain();

    await expectArchivedExactlyOnce(clinic, seeded);
    const { keys } = await archivedLines(`history/${clinic}/`);
    expect(keys).toEqual([`history/${clinic}/2025-08-03/part-0.ndjson.gz`]);
    const object = await env.ARCHIVE.get(keys[0] ?? "");
    const bytes = new Uint8Array((await object?.arrayBuffer()) ?? new ArrayBuffer(0));
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]); // gzip
    // Younger than ARCHIVE_AFTER_DAYS, or not finished: still in D1.
    await expectAllStillInD1(recent);
    expect(await countWhereIn("events", "event_id", [deadId])).toBe(1);
    const manifest = await env.DB.prepare(`SELECT state, line_count FROM archive_objects WHERE object_key = ?1`)
      .bind(keys[0])
      .first();
    expect(manifest).toEqual({ state: "deleted", line_count: 4 + 4 + 8 + 4 });
  });

  it("keeps an event whose notification is not final (held) in D1 with it", async () => {
    const clinic = newClinic();
    const seeded = await seedFinishedDay(clinic, "2025-08-04", 2);
    await env.DB.prepare(`UPDATE notifications SET status = 'held' WHERE notification_id = ?1`)
      .bind(seeded.notificationIds[0])
      .run();
    await drain();
    expect(await countWhereIn("events", "event_id", seeded.eventIds)).toBe(1);
    expect(await countWhereIn("notifications", "notification_id", seeded.notificationIds)).toBe(1);
  });

  it.each([
    ["the R2 put fails", "put"],
    ["the invocation dies right after the put", "put-then-crash"],
    ["the read-back fails", "read-back"],
    ["the read-back finds other bytes", "corrupt-read-back"],
  ] as const)("loses and duplicates nothing when %s", async (_, step) => {
    const clinic = newClinic();
    const seeded = await seedFinishedDay(clinic, "2025-08-05", 3);
    await expect(run({ ARCHIVE: failingBucket(step) })).rejects.toThrow();
    await expectAllStillInD1(seeded);
    expect(
      await env.DB.prepare(`SELECT COUNT(*) AS n FROM archive_objects WHERE clinic_id = ?1`).bind(clinic).first(),
    ).toEqual({ n: 0 });

    await drain();
    await expectArchivedExactlyOnce(clinic, seeded);
    // The retry rewrote the key the failed run may have left: still one object.
    expect((await archivedLines(`history/${clinic}/`)).keys).toHaveLength(1);
  });

  it("takes over the object a dead run left rather than overwrite it (a bucket lock refuses overwrites)", async () => {
    const clinic = newClinic();
    const seeded = await seedFinishedDay(clinic, "2025-08-11", 3);
    await expect(run({ ARCHIVE: failingBucket("put-then-crash") })).rejects.toThrow();
    const locked = await run({ ARCHIVE: failingBucket("locked") });
    expect(locked.objects).toBeGreaterThan(0);
    await drain();
    await expectArchivedExactlyOnce(clinic, seeded);
  });

  it("finishes on the next run when the D1 delete fails after the object was recorded", async () => {
    const clinic = newClinic();
    const seeded = await seedFinishedDay(clinic, "2025-08-06", 3);
    const { database } = countingDatabase(1);
    await expect(run({ DB: database })).rejects.toThrow("D1 unavailable");
    await expectAllStillInD1(seeded);
    expect(await env.DB.prepare(`SELECT state FROM archive_objects WHERE clinic_id = ?1`).bind(clinic).first()).toEqual(
      { state: "written" },
    );

    const resumed = await run();
    expect(resumed.resumed).toBe(1);
    await expectArchivedExactlyOnce(clinic, seeded);
    expect((await archivedLines(`history/${clinic}/`)).keys).toHaveLength(1);
  });

  it("finishes a delete that died half-way, chunk by chunk", async () => {
    const clinic = newClinic();
    const seeded = await seedFinishedDay(clinic, "2025-08-07", 5);
    // Chunks of 2 rows: the second delete batch fails after the first committed.
    const { database } = countingDatabase(2);
    await expect(run({ DB: database }, { pageRows: 2, partPages: 3 })).rejects.toThrow("D1 unavailable");
    expect(await countWhereIn("notifications", "notification_id", seeded.notificationIds)).toBe(3);

    await drain({ pageRows: 2, partPages: 3 });
    await expectArchivedExactlyOnce(clinic, seeded);
  });

  it("deletes no row that changed between the write and the delete: it is archived again, and read newest", async () => {
    const clinic = newClinic();
    const seeded = await seedFinishedDay(clinic, "2025-08-08", 2);
    const changedId = seeded.eventIds[0] ?? "";
    const { database } = countingDatabase(1);
    await expect(run({ DB: database })).rejects.toThrow("D1 unavailable");
    // A forced replay re-applied the first event in the meantime.
    await env.DB.prepare(`UPDATE events SET attempts = attempts + 1, applications = 2 WHERE event_id = ?1`)
      .bind(changedId)
      .run();
    // Resume only (no budget for a new part): the changed event stays in D1, the other goes.
    const resumed = await run({}, { queryBudget: 12 });
    expect(resumed.resumed).toBe(1);
    expect(await countWhereIn("events", "event_id", [changedId])).toBe(1);
    expect(await countWhereIn("events", "event_id", [seeded.eventIds[1] ?? ""])).toBe(0);

    await drain();
    const { lines } = await archivedLines(`history/${clinic}/`);
    const copies = lines.filter((line) => line.table === "events" && line.row.event_id === changedId);
    expect(copies.map((copy) => [copy.key.split("/").at(-1), copy.row.applications])).toEqual([
      ["part-0.ndjson.gz", 1],
      ["part-1.ndjson.gz", 2],
    ]);
    expect((await findArchivedEvent(env, ALL_CLINICS, changedId))?.event.applications).toBe(2);
  });

  it("stays within its D1 query budget and carries on in the next run", async () => {
    const clinic = newClinic();
    const seeded = await seedFinishedDay(clinic, "2025-08-09", 9);
    const options = { pageRows: 2, partPages: 1, queryBudget: 40 };
    const { database, counter } = countingDatabase();
    const first = await run({ DB: database }, options);
    expect(counter.prepared).toBeLessThanOrEqual(40);
    expect(first.queries).toBeLessThanOrEqual(40);
    expect(first.objects).toBeGreaterThan(0);
    expect(await countWhereIn("events", "event_id", seeded.eventIds)).toBeGreaterThan(0);

    await drain({ pageRows: 2, partPages: 1 });
    await expectArchivedExactlyOnce(clinic, seeded);
    // Several parts of the same day, numbered in order.
    const { keys } = await archivedLines(`history/${clinic}/`);
    expect(keys).toContain(`history/${clinic}/2025-08-09/part-1.ndjson.gz`);
  });

  it("runs on the daily cron", async () => {
    const clinic = newClinic();
    const seeded = await seedFinishedDay(clinic, "2025-08-10", 2);
    await worker.scheduled(createScheduledController({ scheduledTime: now, cron: CRONS.retention }), env);
    await expectArchivedExactlyOnce(clinic, seeded);
  });

  it("skips a run while another holds the lease", async () => {
    await env.DB.prepare(
      `INSERT INTO archive_lease (name, expires_at) VALUES ('archive', ?1)
       ON CONFLICT (name) DO UPDATE SET expires_at = ?1`,
    )
      .bind(now.getTime() + 60_000)
      .run();
    expect((await run()).skipped).toBe(true);
    await env.DB.prepare(`UPDATE archive_lease SET expires_at = 0`).run();
    expect((await run()).skipped).toBe(false);
  });
});

describe("audit rows in R2", () => {
  it("moves audit rows older than a year, keeps younger ones, and expires objects past AUDIT_RETENTION_DAYS", async () => {
    const insert = (at: string, targetId: string) =>
      env.DB.prepare(
        `INSERT INTO audit (at, actor, action, target_type, target_id, outcome, status)
         VALUES (?1, 'token:admin', 'event.read', 'event', ?2, 'success', 200)`,
      ).bind(at, targetId);
    const expired = uniqueId("evt_audit_expired");
    const old = uniqueId("evt_audit_old");
    const young = uniqueId("evt_audit_young");
    await env.DB.batch([
      insert("2024-06-01T09:00:00.000Z", expired),
      insert("2024-12-20T09:00:00.000Z", old),
      insert("2025-06-01T09:00:00.000Z", young),
    ]);
    // 400 days: objects of days before 2024-12-11 are past it.
    const result = await run({ AUDIT_RETENTION_DAYS: "400" });
    expect(result.auditObjectsExpired).toBe(1);

    const { keys, lines } = await archivedLines("audit/");
    expect(keys).toEqual(["audit/2024-12-20/part-0.ndjson.gz"]);
    expect(lines.map((line) => line.row.target_id)).toEqual([old]);
    const remaining = await env.DB.prepare(
      `SELECT target_id FROM audit WHERE target_id IN (?1, ?2, ?3) ORDER BY target_id`,
    )
      .bind(expired, old, young)
      .all();
    expect(remaining.results).toEqual([{ target_id: young }]);
  });
});

describe("a malformed setting of another job", () => {
  it("does not stop the archive: the audit objects' expiry reads AUDIT_RETENTION_DAYS alone", async () => {
    const result = await run({
      CHANGE_FEED_DAYS: "7d",
      PAYLOAD_RETENTION_DAYS: "30d",
      EVENT_ROW_RETENTION_DAYS: "14d",
    });
    expect(result.skipped).toBe(false);
  });
});

describe("ARCHIVE_AFTER_DAYS", () => {
  it("defaults to 90 and refuses anything but a whole number of days from 1", () => {
    expect(readArchiveSettings({ ...env, ARCHIVE_AFTER_DAYS: "" }).archiveAfterDays).toBe(90);
    expect(readArchiveSettings({ ...env, ARCHIVE_AFTER_DAYS: "30" }).archiveAfterDays).toBe(30);
    for (const bad of ["0", "-1", "1.5", "ninety"]) {
      expect(() => readArchiveSettings({ ...env, ARCHIVE_AFTER_DAYS: bad })).toThrow(ConfigError);
    }
  });
});

describe("ARCHIVE_INDEX_DAYS", () => {
  it("defaults to 365 and refuses anything but a whole number of days from 1, naming the variable", () => {
    expect(readArchiveSettings({ ...env, ARCHIVE_INDEX_DAYS: "" }).indexDays).toBe(365);
    expect(readArchiveSettings({ ...env, ARCHIVE_INDEX_DAYS: "30" }).indexDays).toBe(30);
    for (const bad of ["0", "-1", "1.5", "a year"]) {
      expect(() => readArchiveSettings({ ...env, ARCHIVE_INDEX_DAYS: bad })).toThrow(/ARCHIVE_INDEX_DAYS/);
    }
  });
});
