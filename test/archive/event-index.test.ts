import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { findArchivedEvent } from "../../src/archive/lookup";
import { archiveFinishedHistory } from "../../src/archive/run";
import {
  bucketOf,
  entityKey,
  eventKey,
  INDEX_BUCKET_SHIFT,
  INDEX_ENTRY_CHARS,
  INDEX_ROW_CHARS,
  indexArchivedEvents,
  indexEntry,
  indexedObjectIds,
  objectIdsInEntries,
  objectKeysNewestFirst,
  readIndexEntries,
} from "../../src/db/archive";
import { ALL_CLINICS } from "../../src/db/scope";
import { TEST_NOW } from "../helpers/clock";
import { queryPlans } from "../helpers/d1";
import { bucketRows, insertEvent, newClinic, seedFinishedDay } from "./helpers";

/**
 * The archived-event index packed by bucket (migration 0183): an entry of 8 characters per archived
 * event in its bucket's last row, rows capped inside a page, read back for `GET /admin/events/:id`.
 */

/** The objects D1's index names for a key, newest first, as the lookup opens them. */
const objectsForEventKey = async (db: D1Database, key: number) =>
  objectKeysNewestFirst(db, await indexedObjectIds(db, key));

/** Every entry naming `objectId`, across the whole index. */
async function entriesOf(objectId: number): Promise<string[]> {
  const { results } = await env.DB.prepare(`SELECT entries FROM archived_event_buckets`).all<{ entries: string }>();
  return results
    .flatMap((row) => row.entries.match(new RegExp(`.{${INDEX_ENTRY_CHARS}}`, "g")) ?? [])
    .filter((entry) => readIndexEntries(entry)[0]?.objectId === objectId);
}

/** A bucket of the tests' own: emptied first (a real event of this file could have landed in it). */
async function emptyBucket(bucket: number): Promise<number> {
  await env.DB.prepare(`DELETE FROM archived_event_buckets WHERE bucket = ?1`).bind(bucket).run();
  return bucket;
}

/** Archives `count` finished events of a new clinic; returns their ids and their object's id. */
async function archiveDay(count: number) {
  const clinic = newClinic();
  const seeded = await seedFinishedDay(clinic, "2025-06-01", count);
  await archiveFinishedHistory(env, new Date(TEST_NOW), { queryBudget: 600 });
  const object = await env.DB.prepare(`SELECT object_id FROM archive_objects WHERE clinic_id = ?1`)
    .bind(clinic)
    .first<{ object_id: number }>();
  const objectId = object?.object_id ?? -1;
  return { eventIds: seeded.eventIds, orderIds: seeded.orderIds, objectId };
}

describe("the archived-event index (archived_event_buckets)", () => {
  it("gives each archived event and entity one entry, its key's low 18 bits then its object's id, in its bucket", async () => {
    const { eventIds, orderIds, objectId } = await archiveDay(12);
    const expected: string[] = [];
    const keys = [
      ...(await Promise.all(eventIds.map((eventId) => eventKey(eventId)))),
      ...(await Promise.all(orderIds.map((orderId) => entityKey("order", orderId)))),
    ];
    for (const key of keys) {
      const rows = await bucketRows(bucketOf(key));
      expect(rows.flatMap((row) => objectIdsInEntries(row.entries, key))).toContain(objectId);
      expect(await objectsForEventKey(env.DB, key)).toHaveLength(1);
      expected.push(indexEntry(key, objectId));
    }
    // 12 events and their 12 orders, no more.
    expect(expected).toHaveLength(24);
    expect((await entriesOf(objectId)).sort()).toEqual(expected.sort());
  });

  it("appends to a bucket's last row until it would pass 120 entries, then starts the next", async () => {
    const clinic = newClinic();
    const ids = ["a", "b", "c"].map((suffix) => `evt_bucket_${crypto.randomUUID()}_${suffix}`);
    await env.DB.batch(ids.map((id) => insertEvent(id, clinic, "2025-06-02T10:00:00.000Z", "processed")));
    const bucket = await emptyBucket(4242);
    // Three events a batch, 45 batches: 40 fill the first row (960 characters), the 41st starts row 1.
    for (let batch = 0; batch < 45; batch += 1) {
      const events = ids.map((eventId, index) => ({
        eventId,
        key: bucket * 2 ** INDEX_BUCKET_SHIFT + batch * 3 + index,
      }));
      await indexArchivedEvents(env.DB, events, 7).run();
    }
    const rows = await bucketRows(bucket);
    expect(rows.map((row) => [row.seq, row.entries.length])).toEqual([
      [0, 40 * 3 * INDEX_ENTRY_CHARS],
      [1, 5 * 3 * INDEX_ENTRY_CHARS],
    ]);
    for (const row of rows) expect(row.entries.length).toBeLessThanOrEqual(INDEX_ROW_CHARS);
    // Every key is found, in whichever row it landed.
    for (const low of [0, 77, 119, 120, 134])
      expect(rows.flatMap((row) => objectIdsInEntries(row.entries, bucket * 2 ** INDEX_BUCKET_SHIFT + low))).toEqual([
        7,
      ]);
  });

  it("indexes only events still in D1, so a batch repeated after its delete committed adds nothing", async () => {
    const clinic = newClinic();
    const present = `evt_present_${crypto.randomUUID()}`;
    const gone = `evt_gone_${crypto.randomUUID()}`;
    await insertEvent(present, clinic, "2025-06-03T10:00:00.000Z", "processed").run();
    const bucket = await emptyBucket(4343);
    const events = [
      { eventId: present, key: bucket * 2 ** INDEX_BUCKET_SHIFT + 1 },
      { eventId: gone, key: bucket * 2 ** INDEX_BUCKET_SHIFT + 2 },
    ];
    await indexArchivedEvents(env.DB, events, 9).run();
    expect((await bucketRows(bucket)).map((row) => row.entries)).toEqual([indexEntry(1, 9)]);
    await env.DB.prepare(`DELETE FROM events WHERE event_id = ?1`).bind(present).run();
    await indexArchivedEvents(env.DB, events, 9).run();
    expect((await bucketRows(bucket)).map((row) => row.entries)).toEqual([indexEntry(1, 9)]);
  });

  it("encodes 48 bits in 8 characters and refuses an object id past its 30 bits", () => {
    const key = 2 ** 53 - 1;
    expect(indexEntry(key, 2 ** 30 - 1)).toBe("________");
    expect(indexEntry(0, 0)).toBe("AAAAAAAA");
    expect(readIndexEntries(indexEntry(key, 123_456))).toEqual([{ tag: 2 ** 18 - 1, objectId: 123_456 }]);
    expect(() => indexEntry(key, 2 ** 30)).toThrow(/out of the index's range/);
    expect(() => indexArchivedEvents(env.DB, [{ eventId: "evt", key }], -1)).toThrow(/out of the index's range/);
  });

  it("reads the entries on 8-character boundaries only", () => {
    const tag = 0x2abcd;
    // The first entry's object id begins with the characters of `tag`, but its own tag is 0: only the
    // second entry is `tag`'s.
    const entries = indexEntry(0, tag * 2 ** 12) + indexEntry(tag, 42);
    expect(entries.slice(3, 6)).toBe(entries.slice(8, 11));
    expect(objectIdsInEntries(entries, tag)).toEqual([42]);
    expect(objectIdsInEntries(entries, 2 ** 18 + tag)).toEqual([42]);
    expect(objectIdsInEntries("", tag)).toEqual([]);
  });

  it("names every object sharing an event's 34 bits of key, newest first; the one holding the id answers", async () => {
    const { eventIds, objectId } = await archiveDay(2);
    const eventId = eventIds[0] ?? "";
    const key = await eventKey(eventId);
    // Another object (newer, holding other events) whose entry shares this key's bucket and tag.
    const decoy = await env.DB.prepare(
      `INSERT INTO archive_objects (object_key, kind, clinic_id, day, part, state, line_count, bytes, written_at)
       VALUES (?1, 'history', 'decoy', '2025-06-04', 0, 'deleted', 0, 0, ?2) RETURNING object_id`,
    )
      .bind(`history/decoy/${crypto.randomUUID()}/part-0.ndjson.gz`, new Date(TEST_NOW).toISOString())
      .first<{ object_id: number }>();
    const decoyId = decoy?.object_id ?? 0;
    const decoyEvent = `evt_decoy_${crypto.randomUUID()}`;
    await insertEvent(decoyEvent, "decoy", "2025-06-04T10:00:00.000Z", "processed").run();
    await indexArchivedEvents(env.DB, [{ eventId: decoyEvent, key }], decoyId).run();

    const objects = await objectsForEventKey(env.DB, key);
    expect(objects).toHaveLength(2);
    expect(objects[0]).toMatch(/^history\/decoy\//);
    const found = await findArchivedEvent(env, ALL_CLINICS, eventId);
    expect(found?.event.event_id).toBe(eventId);
    expect(objectId).toBeLessThan(decoyId);
  });

  it("still finds events the release before indexed in archived_events", async () => {
    const { eventIds, objectId } = await archiveDay(1);
    const eventId = eventIds[0] ?? "";
    const key = await eventKey(eventId);
    // As the release before migration 0183 left it: the event in archived_events, none in the buckets.
    const tag = indexEntry(key, objectId);
    await env.DB.batch([
      env.DB.prepare(`UPDATE archived_event_buckets SET entries = replace(entries, ?2, '') WHERE bucket = ?1`).bind(
        bucketOf(key),
        tag,
      ),
      env.DB.prepare(`INSERT INTO archived_events (event_key, object_id) VALUES (?1, ?2)`).bind(key, objectId),
    ]);
    expect(await objectsForEventKey(env.DB, key)).toHaveLength(1);
    expect((await findArchivedEvent(env, ALL_CLINICS, eventId))?.event.event_id).toBe(eventId);
  });

  it("reads one bucket by its key and writes through the primary keys (query plans)", async () => {
    const { eventIds } = await archiveDay(1);
    const key = await eventKey(eventIds[0] ?? "");
    const reads = await queryPlans(env.DB, (db) => objectsForEventKey(db, key));
    expect(reads.join("\n")).toMatch(/SEARCH archived_event_buckets USING PRIMARY KEY \(bucket=\?\)/);
    expect(reads.join("\n")).toMatch(/SEARCH archived_events USING PRIMARY KEY \(event_key=\?\)/);
    expect(reads.join("\n")).toMatch(/SEARCH archive_objects USING INTEGER PRIMARY KEY/);
    expect(reads.join("\n")).not.toMatch(/\bSCAN (archived_event_buckets|archived_events|archive_objects)\b/);

    const writes = await queryPlans(env.DB, (db) =>
      indexArchivedEvents(db, [{ eventId: eventIds[0] ?? "", key }], 1).run(),
    );
    expect(writes.join("\n")).toMatch(/SEARCH e EXISTS USING PRIMARY KEY \(event_id=\?\)/);
    expect(writes.join("\n")).toMatch(/SEARCH b USING PRIMARY KEY \(bucket=\?\)/);
    expect(writes.join("\n")).not.toMatch(/\bSCAN (b|e|archived_event_buckets)\b/);
  });
});
