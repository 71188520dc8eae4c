import { createExecutionContext, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { findArchivedEvent } from "../../src/archive/lookup";
import { archiveFinishedHistory } from "../../src/archive/run";
import {
  rangesOfDay,
  SHELF_OBJECT_BYTES,
  SHELF_PREFIX,
  SHELF_RANGES_PER_DAY,
  SHELF_ROWS_PER_BUCKET,
} from "../../src/archive/shelf";
import {
  bucketOf,
  closedIndexRows,
  deleteIndexRows,
  eventKey,
  INDEX_BUCKET_SHIFT,
  INDEX_ENTRY_CHARS,
  INDEX_ROW_CHARS,
  indexEntry,
  indexedObjectIds,
  objectsWrittenSince,
  rangeOf,
  SHELF_RANGES,
} from "../../src/db/archive";
import { ALL_CLINICS } from "../../src/db/scope";
import worker from "../../src/index";
import { CRONS } from "../../src/scheduled/dispatch";
import { TEST_NOW } from "../helpers/clock";
import { queryPlans, wrapDatabase } from "../helpers/d1";
import { ADMIN_TOKEN } from "../helpers/events";
import { bucketRows, failingBucket, newClinic, seedFinishedDay } from "./helpers";

/**
 * The event index's shelf (src/archive/shelf.ts): closed rows of `archived_event_buckets` whose every
 * entry names an object written more than ARCHIVE_INDEX_DAYS ago move to R2 under `index/events/`,
 * are read back, then leave D1; `GET /admin/events/:id` still finds their events.
 */

const DAY = 86_400_000;
/** When the tests' objects are written, and a run a year and a day later (default ARCHIVE_INDEX_DAYS 365). */
const ARCHIVED_AT = new Date(TEST_NOW);
const YEAR_AND_A_DAY_LATER = new Date(TEST_NOW + 366 * DAY);

const rangeKey = (range: number) => `${SHELF_PREFIX}${range.toString(16).padStart(2, "0")}/`;

/** The text of every shelf object of a range, oldest first. */
async function shelfObjects(range: number): Promise<{ key: string; text: string }[]> {
  const listing = await env.ARCHIVE.list({ prefix: rangeKey(range) });
  const objects = [];
  for (const object of listing.objects.sort((a, b) => a.key.localeCompare(b.key)))
    objects.push({ key: object.key, text: (await (await env.ARCHIVE.get(object.key))?.text()) ?? "" });
  return objects;
}

/**
 * Archives one finished event of a new clinic at ARCHIVED_AT, then closes its bucket's row as the
 * bucket's next archived events would: entries of other keys (the same object, other tags) fill it to
 * 120, and the next row starts. Returns the event, its key, bucket and range, and the closed row's seq.
 */
async function archivedEventInClosedRow() {
  const clinic = newClinic();
  const [eventId = ""] = (await seedFinishedDay(clinic, "2025-06-01", 1)).eventIds;
  await archiveFinishedHistory(env, ARCHIVED_AT, { queryBudget: 600 });
  const key = await eventKey(eventId);
  const bucket = bucketOf(key);
  const [objectId = -1] = await indexedObjectIds(env.DB, key);
  const rows = await bucketRows(bucket);
  const last = rows.at(-1);
  if (!last) throw new Error("the archived event was not indexed");
  const otherKey = (offset: number) => bucket * 2 ** INDEX_BUCKET_SHIFT + (((key % 2 ** 18) + offset) % 2 ** 18);
  const others = (from: number, count: number) =>
    Array.from({ length: count }, (_, index) => indexEntry(otherKey(from + index), objectId)).join("");
  await env.DB.batch([
    // The row filled up to its 120 entries, then the next row started.
    env.DB.prepare(`UPDATE archived_event_buckets SET entries = entries || ?3 WHERE bucket = ?1 AND seq = ?2`).bind(
      bucket,
      last.seq,
      others(1, (INDEX_ROW_CHARS - last.entries.length) / INDEX_ENTRY_CHARS),
    ),
    env.DB.prepare(`INSERT INTO archived_event_buckets (bucket, seq, entries) VALUES (?1, ?2, ?3)`).bind(
      bucket,
      last.seq + 1,
      others(200, 1),
    ),
  ]);
  return { eventId, key, bucket, range: rangeOf(bucket), closedSeq: last.seq, objectId };
}

const adminRead = (eventId: string) =>
  worker.fetch(
    new Request(`https://receiver.test/admin/events/${eventId}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    }),
    env,
    createExecutionContext(),
  );

describe("the event index's shelf in R2", () => {
  it("moves a closed row whose objects are older than ARCHIVE_INDEX_DAYS, and its event is still found", async () => {
    const { eventId, key, bucket, range, closedSeq } = await archivedEventInClosedRow();
    const closed = (await bucketRows(bucket)).find((row) => row.seq === closedSeq);

    const result = await archiveFinishedHistory(env, YEAR_AND_A_DAY_LATER, { queryBudget: 600, shelfRanges: [range] });

    expect(result.shelvedRows).toBeGreaterThanOrEqual(1);
    // D1 keeps the bucket's last row only; the closed one is in the range's object, as it was.
    expect((await bucketRows(bucket)).map((row) => row.seq)).toEqual([closedSeq + 1]);
    const [object, ...more] = await shelfObjects(range);
    expect(more).toEqual([]);
    expect(object?.key).toBe(`${rangeKey(range)}000000.txt`);
    expect(object?.text.split("\n")).toContain(`${bucket}.${closedSeq} ${closed?.entries}`);
    // D1's index no longer names the event's object: the shelf does.
    expect(await indexedObjectIds(env.DB, key)).toEqual(new Set());
    expect((await findArchivedEvent(env, ALL_CLINICS, eventId))?.event.event_id).toBe(eventId);
    const response = await adminRead(eventId);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ event_id: eventId, archived: true });
  });

  it("keeps rows naming an object younger than ARCHIVE_INDEX_DAYS, and every bucket's last row", async () => {
    const { bucket, range, closedSeq } = await archivedEventInClosedRow();
    const before = await bucketRows(bucket);

    const early = await archiveFinishedHistory(env, new Date(TEST_NOW + 364 * DAY), {
      queryBudget: 600,
      shelfRanges: [range],
    });
    expect(early.shelvedRows).toBe(0);
    expect(await bucketRows(bucket)).toEqual(before);

    // ARCHIVE_INDEX_DAYS=30: a month and a day later is old enough; the last row still stays.
    const settings = { ...env, ARCHIVE_INDEX_DAYS: "30" };
    const later = await archiveFinishedHistory(settings, new Date(TEST_NOW + 31 * DAY), {
      queryBudget: 600,
      shelfRanges: [range],
    });
    expect(later.shelvedRows).toBeGreaterThanOrEqual(1);
    expect((await bucketRows(bucket)).map((row) => row.seq)).toEqual([closedSeq + 1]);
  });

  it("after a run that died between the write and the delete, the next one writes nothing twice", async () => {
    const { eventId, bucket, range, closedSeq } = await archivedEventInClosedRow();
    const deleteFails = wrapDatabase(env.DB, {
      prepare: (sql, prepare) => {
        if (sql.startsWith("DELETE FROM archived_event_buckets")) throw new Error("D1 unavailable");
        return prepare(sql);
      },
    });
    const dying = await archiveFinishedHistory({ ...env, DB: deleteFails }, YEAR_AND_A_DAY_LATER, {
      queryBudget: 600,
      shelfRanges: [range],
    });
    expect(dying.shelvedRows).toBe(0);
    const written = await shelfObjects(range);
    const line = written
      .flatMap((object) => object.text.split("\n"))
      .filter((text) => text.startsWith(`${bucket}.${closedSeq} `));
    expect(line).toHaveLength(1);
    // In both places for now: the lookup finds it either way.
    expect((await bucketRows(bucket)).map((row) => row.seq)).toContain(closedSeq);
    expect((await findArchivedEvent(env, ALL_CLINICS, eventId))?.event.event_id).toBe(eventId);

    const next = await archiveFinishedHistory(env, YEAR_AND_A_DAY_LATER, { queryBudget: 600, shelfRanges: [range] });
    expect(next.shelvedRows).toBeGreaterThanOrEqual(1);
    expect(await shelfObjects(range)).toEqual(written);
    expect((await bucketRows(bucket)).map((row) => row.seq)).toEqual([closedSeq + 1]);
    expect((await findArchivedEvent(env, ALL_CLINICS, eventId))?.event.event_id).toBe(eventId);
  });

  it.each([
    ["the write fails", "put"],
    ["the read-back differs", "corrupt-read-back"],
  ] as const)("leaves the rows in D1 when %s, and the run archives history all the same", async (_, failing) => {
    const { eventId, bucket, range, closedSeq } = await archivedEventInClosedRow();
    const objectsBefore = await shelfObjects(range);
    const clinic = newClinic();
    const history = await seedFinishedDay(clinic, "2025-06-02", 1);
    const bucketFailing = failingBucket(failing, SHELF_PREFIX);

    const result = await archiveFinishedHistory({ ...env, ARCHIVE: bucketFailing }, YEAR_AND_A_DAY_LATER, {
      queryBudget: 600,
      shelfRanges: [range],
    });

    expect(result.shelvedRows).toBe(0);
    expect((await bucketRows(bucket)).map((row) => row.seq)).toContain(closedSeq);
    expect((await findArchivedEvent(env, ALL_CLINICS, eventId))?.event.event_id).toBe(eventId);
    expect(result.objects).toBeGreaterThanOrEqual(1);
    expect(await findArchivedEvent(env, ALL_CLINICS, history.eventIds[0] ?? "")).not.toBeNull();
    if (failing === "put") expect(await shelfObjects(range)).toEqual(objectsBefore);
  });

  it("moves a later bucket's old rows when an earlier bucket of its range has many young ones", async () => {
    const { bucket, range, closedSeq } = await archivedEventInClosedRow();
    const first = range * 256;
    const crowded = bucket === first ? bucket + 1 : first;
    const young = await env.DB.prepare(
      `INSERT INTO archive_objects (object_key, kind, clinic_id, day, part, state, line_count, bytes, written_at)
       VALUES (?1, 'history', 'young', '2026-12-01', 0, 'deleted', 0, 0, ?2) RETURNING object_id`,
    )
      .bind(`history/young/${crypto.randomUUID()}/part-0.ndjson.gz`, YEAR_AND_A_DAY_LATER.toISOString())
      .first<{ object_id: number }>();
    // 1,001 closed rows naming an object written that very day, and the open one after them.
    await env.DB.prepare(
      `WITH RECURSIVE n(seq) AS (SELECT 0 UNION ALL SELECT seq + 1 FROM n WHERE seq < 1001)
       INSERT INTO archived_event_buckets (bucket, seq, entries) SELECT ?1, seq, ?2 FROM n`,
    )
      .bind(crowded, indexEntry(crowded * 2 ** INDEX_BUCKET_SHIFT, young?.object_id ?? 0).repeat(120))
      .run();

    const result = await archiveFinishedHistory(env, YEAR_AND_A_DAY_LATER, { queryBudget: 600, shelfRanges: [range] });

    expect(result.shelvedRows).toBeGreaterThanOrEqual(1);
    expect((await bucketRows(bucket)).map((row) => row.seq)).toEqual([closedSeq + 1]);
    expect(await bucketRows(crowded)).toHaveLength(1002);
  });

  it("starts the range's next object when the newest would pass SHELF_OBJECT_BYTES; a lookup reads them all", async () => {
    const { eventId, bucket, range, closedSeq } = await archivedEventInClosedRow();
    // A newest object a few bytes short of the size, of other buckets' lines.
    const existing = await shelfObjects(range);
    const filler = `${range * 256 + ((bucket + 1) % 256)}.999999 ${"A".repeat(960)}\n`;
    const fullKey = `${rangeKey(range)}${String(existing.length).padStart(6, "0")}.txt`;
    await env.ARCHIVE.put(fullKey, filler.repeat(Math.floor(SHELF_OBJECT_BYTES / filler.length)));

    await archiveFinishedHistory(env, YEAR_AND_A_DAY_LATER, { queryBudget: 600, shelfRanges: [range] });

    const objects = await shelfObjects(range);
    expect(objects.map((object) => object.key)).toEqual([
      ...existing.map((object) => object.key),
      fullKey,
      `${rangeKey(range)}${String(existing.length + 1).padStart(6, "0")}.txt`,
    ]);
    expect(objects.at(-1)?.text).toContain(`${bucket}.${closedSeq} `);
    for (const object of objects) expect(object.text.length).toBeLessThanOrEqual(SHELF_OBJECT_BYTES);
    expect((await findArchivedEvent(env, ALL_CLINICS, eventId))?.event.event_id).toBe(eventId);
  });

  it("runs on the daily cron, over the day's ranges", async () => {
    const { bucket, range, closedSeq } = await archivedEventInClosedRow();
    // A day a year on whose ranges include this one.
    let day = Math.floor(YEAR_AND_A_DAY_LATER.getTime() / DAY);
    while (!rangesOfDay(new Date(day * DAY)).includes(range)) day += 1;
    const scheduledTime = new Date(day * DAY + 3 * 3_600_000);
    await worker.scheduled(createScheduledController({ scheduledTime, cron: CRONS.retention }), env);
    expect((await bucketRows(bucket)).map((row) => row.seq)).toEqual([closedSeq + 1]);
  });

  it("visits 16 ranges a day and every range once in 16 days", () => {
    const seen: number[] = [];
    for (let day = 0; day < SHELF_RANGES / SHELF_RANGES_PER_DAY; day += 1) {
      const ranges = rangesOfDay(new Date(TEST_NOW + day * DAY));
      expect(new Set(ranges).size).toBe(SHELF_RANGES_PER_DAY);
      seen.push(...ranges);
    }
    expect(new Set(seen).size).toBe(SHELF_RANGES);
  });

  it("reads and deletes through the primary keys (query plans)", async () => {
    const { range, bucket, closedSeq, objectId } = await archivedEventInClosedRow();
    const plans = [
      ...(await queryPlans(env.DB, (db) => closedIndexRows(db, range, SHELF_ROWS_PER_BUCKET))),
      ...(await queryPlans(env.DB, (db) => objectsWrittenSince(db, new Set([objectId]), ARCHIVED_AT.toISOString()))),
      ...(await queryPlans(env.DB, (db) => deleteIndexRows(db, [{ bucket, seq: closedSeq }]).run())),
    ].join("\n");
    expect(plans).toMatch(/SEARCH b USING PRIMARY KEY \(bucket>\? AND bucket<\?\)/);
    expect(plans).toMatch(/SEARCH archive_objects USING INTEGER PRIMARY KEY/);
    expect(plans).not.toMatch(/\bSCAN (b|last|archived_event_buckets|archive_objects)\b/);
  });
});
