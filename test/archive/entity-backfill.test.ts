import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { backfillStatements } from "../../src/archive/entity-backfill";
import { readBack } from "../../src/archive/objects";
import { archiveFinishedHistory } from "../../src/archive/run";
import { bucketOf, entityKey, indexEntry } from "../../src/db/archive";
import { adminJson } from "../helpers/admin";
import { TEST_NOW } from "../helpers/clock";
import { bucketRows, newClinic, seedFinishedDay } from "./helpers";

/**
 * The entity index's backfill (migration 0187): objects archived before entities were indexed are
 * read back and their orders indexed, once. Such an object is made here from one archived today: its
 * orders' entries are taken out of the index and the object marked as 0187 marks the old ones.
 */
async function archivedBeforeEntitiesWereIndexed(days: readonly string[], orders = 3) {
  const seededDays = [];
  for (const day of days) {
    const clinic = newClinic();
    seededDays.push({ clinic, seeded: await seedFinishedDay(clinic, day, orders) });
  }
  // One run archives them all: a later run would backfill the ones already marked.
  await archiveFinishedHistory(env, new Date(TEST_NOW), { queryBudget: 600 });
  const archived = [];
  for (const { clinic, seeded } of seededDays) {
    const object = await env.DB.prepare(
      `SELECT object_id, object_key, line_count, entities_indexed FROM archive_objects WHERE kind = 'history' AND clinic_id = ?1`,
    )
      .bind(clinic)
      .first<{ object_id: number; object_key: string; line_count: number; entities_indexed: number }>();
    if (!object) throw new Error("no object archived");
    // Written today: its entities are indexed, and the backfill has nothing to do with it.
    expect(object.entities_indexed).toBe(1);
    for (const orderId of seeded.orderIds) {
      const key = await entityKey("order", orderId);
      await env.DB.prepare(`UPDATE archived_event_buckets SET entries = replace(entries, ?2, '') WHERE bucket = ?1`)
        .bind(bucketOf(key), indexEntry(key, object.object_id))
        .run();
    }
    await env.DB.prepare(`UPDATE archive_objects SET entities_indexed = 0 WHERE object_id = ?1`)
      .bind(object.object_id)
      .run();
    archived.push({ clinic, seeded, object });
  }
  return archived;
}

function only<T>(list: readonly T[]): T {
  if (list.length !== 1 || list[0] === undefined) throw new Error("one expected");
  return list[0];
}

/** The Worker's JSON log lines (src/log.ts) from now until `restore`. */
function captureLogs() {
  const lines: Record<string, unknown>[] = [];
  const spies = (["log", "warn", "error"] as const).map((method) =>
    vi.spyOn(console, method).mockImplementation((line: unknown) => {
      lines.push(JSON.parse(String(line)) as Record<string, unknown>);
    }),
  );
  return {
    lines,
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

const entitiesIndexed = async (objectId: number) =>
  (
    await env.DB.prepare(`SELECT entities_indexed FROM archive_objects WHERE object_id = ?1`)
      .bind(objectId)
      .first<{ entities_indexed: number }>()
  )?.entities_indexed;

describe("the archived entities' index backfill (migration 0187)", () => {
  it("indexes the orders of an object archived before entities were indexed, so they answer again", async () => {
    const { seeded, object } = only(await archivedBeforeEntitiesWereIndexed(["2025-06-01"]));
    const orderId = seeded.orderIds[1] ?? "";
    expect((await adminJson(`/orders/${orderId}`)).status).toBe(404);

    const logs = captureLogs();
    const run = await archiveFinishedHistory(env, new Date(TEST_NOW), { queryBudget: 600 });
    logs.restore();
    expect(run.entityBackfill).toMatchObject({ objects: 1, entities: 3, unreadable: 0 });
    expect(logs.lines.some((line) => line.message === "archive entity index backfilled")).toBe(true);
    expect(await entitiesIndexed(object.object_id)).toBe(1);
    for (const id of seeded.orderIds) {
      const { status, body } = await adminJson<Record<string, unknown>>(`/orders/${id}`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ order_id: id, status: "delivered", archived: true });
    }

    // Marked: the next run reads nothing back and writes nothing.
    const key = await entityKey("order", orderId);
    const before = await bucketRows(bucketOf(key));
    const again = await archiveFinishedHistory(env, new Date(TEST_NOW), { queryBudget: 600 });
    expect(again.entityBackfill).toEqual({ objects: 0, entities: 0, unreadable: 0 });
    expect(await bucketRows(bucketOf(key))).toEqual(before);
  });

  it("a batch repeated after it committed (its answer lost) adds no second entry", async () => {
    const { seeded, object } = only(await archivedBeforeEntitiesWereIndexed(["2025-06-02"], 2));
    const lines = await readBack(env.ARCHIVE, object.object_key, object.line_count);
    const context = { env, pageRows: 1000 };
    await env.DB.batch(await backfillStatements(context, object, lines));
    const keys = await Promise.all(seeded.orderIds.map((id) => entityKey("order", id)));
    const after = await Promise.all(keys.map((key) => bucketRows(bucketOf(key))));
    for (const [index, key] of keys.entries())
      expect(after[index]?.map((row) => row.entries).join("")).toContain(indexEntry(key, object.object_id));

    await env.DB.batch(await backfillStatements(context, object, lines));
    expect(await Promise.all(keys.map((key) => bucketRows(bucketOf(key))))).toEqual(after);
    expect(await entitiesIndexed(object.object_id)).toBe(1);
  });

  it("an R2 failure ends the backfill for the run, logged, and the archive goes on", async () => {
    const { object } = only(await archivedBeforeEntitiesWereIndexed(["2025-06-05"], 1));
    const clinic = newClinic();
    const history = await seedFinishedDay(clinic, "2025-06-06", 1);
    const bucket = new Proxy(env.ARCHIVE, {
      get(target, property) {
        if (property === "get")
          return async (key: string) => {
            if (key === object.object_key) throw new TypeError("R2 unavailable");
            return target.get(key);
          };
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });

    const logs = captureLogs();
    const run = await archiveFinishedHistory({ ...env, ARCHIVE: bucket }, new Date(TEST_NOW), { queryBudget: 600 });
    logs.restore();
    expect(run.entityBackfill).toEqual({ objects: 0, entities: 0, unreadable: 0 });
    expect(logs.lines).toContainEqual(
      expect.objectContaining({ level: "warn", message: "archive entity index backfill failed", error: "TypeError" }),
    );
    // Still waiting for the next run, and the day's history archived all the same.
    expect(await entitiesIndexed(object.object_id)).toBe(0);
    expect(run.objects).toBeGreaterThanOrEqual(1);
    expect(
      await env.DB.prepare(`SELECT 1 FROM events WHERE event_id = ?1`)
        .bind(history.eventIds[0] ?? "")
        .first(),
    ).toBeNull();
    // The next run without the failure indexes it.
    const next = await archiveFinishedHistory(env, new Date(TEST_NOW), { queryBudget: 600 });
    expect(next.entityBackfill.objects).toBe(1);
  });

  it("sets aside an object that no longer reads back (-1, logged) and indexes the next", async () => {
    const [lost, kept] = await archivedBeforeEntitiesWereIndexed(["2025-06-03", "2025-06-04"], 1);
    if (!lost || !kept) throw new Error("two objects expected");
    await env.ARCHIVE.delete(lost.object.object_key);

    const logs = captureLogs();
    const run = await archiveFinishedHistory(env, new Date(TEST_NOW), { queryBudget: 600 });
    logs.restore();
    expect(run.entityBackfill).toMatchObject({ objects: 1, unreadable: 1 });
    expect(await entitiesIndexed(lost.object.object_id)).toBe(-1);
    expect(await entitiesIndexed(kept.object.object_id)).toBe(1);
    expect(logs.lines).toContainEqual(
      expect.objectContaining({
        level: "error",
        message: "archive object unreadable; its entities stay unindexed",
        object_id: lost.object.object_id,
      }),
    );
    expect((await adminJson(`/orders/${kept.seeded.orderIds[0]}`)).status).toBe(200);
    expect((await adminJson(`/orders/${lost.seeded.orderIds[0]}`)).status).toBe(404);
  });
});
