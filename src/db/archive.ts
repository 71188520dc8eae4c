import { decodeBase64Url, encodeBase64Url } from "hono/utils/encode";
import { ENTITY_KINDS, type EntityKind } from "../event-types";
import { ENTITY_TABLES } from "./entities";
import { ENTITY_RETENTION } from "./entity-retention";
import { notificationsOfEventSql } from "./notification-keys";
import { statusHistorySql } from "./notification-views";
import type { ListPosition } from "./paging";
import { where } from "./parameters";

/**
 * The archive's SQL (src/archive/ runs it): which finished rows may leave D1, the manifest of R2
 * objects (`archive_objects`), the event index (`archived_event_buckets`), and the guarded deletes.
 * Rows are finished exactly as the compaction defines it (src/db/compaction.ts): events `processed`,
 * `ignored` or `invalid` whose every notification is final; notifications `sent`, `delivered`,
 * `suppressed` or `superseded`; entities in a final status (src/db/entity-retention.ts).
 */

export const FINAL_EVENT_STATUSES = ["processed", "ignored", "invalid"] as const;
export const FINAL_NOTIFICATION_STATUSES = ["sent", "delivered", "suppressed", "superseded"] as const;

/** The tables an archive object holds lines of. */
export type ArchivedTable =
  | "events"
  | "notifications"
  | "notification_status_history"
  | "orders"
  | "medication_requests"
  | "refills"
  | "audit";

/** One archived row: its table's columns as D1 returned them. */
export type ArchivedRow = Record<string, unknown>;

const quoted = (values: readonly string[]) => values.map((value) => `'${value}'`).join(", ");

/** A table whose finished rows are archived by time. */
export interface ArchiveSource {
  table: ArchivedTable;
  idColumn: string;
  timeColumn: string;
  /** Whether rows carry `clinic_id` (audit rows do not). */
  perClinic: boolean;
  /** Which rows are finished; `cutoff()` answers the placeholder of the cutoff, for a condition that needs it. */
  condition(cutoff: () => string): string;
}

export const EVENT_SOURCE: ArchiveSource = {
  table: "events",
  idColumn: "event_id",
  timeColumn: "received_at",
  perClinic: true,
  condition: () => `status IN (${quoted(FINAL_EVENT_STATUSES)}) AND NOT EXISTS (
    SELECT 1 FROM notifications n WHERE ${notificationsOfEventSql("n.", "events.event_id")}
    AND n.status NOT IN (${quoted(FINAL_NOTIFICATION_STATUSES)}))`,
};

function entitySource(kind: EntityKind): ArchiveSource {
  const { table, idColumn } = ENTITY_TABLES[kind];
  return {
    table: table as ArchivedTable,
    idColumn,
    timeColumn: "status_at",
    perClinic: true,
    condition: (cutoff) =>
      `status IN (${quoted(ENTITY_RETENTION[kind].finalStatuses)}) AND last_event_at < ${cutoff()} AND updated_at < ${cutoff()}`,
  };
}

/**
 * Final entities, archived by the day their final status was set, once quiet for the cutoff's age by
 * both clocks: their last event happened before it (`last_event_at`, NovaMed's time) and the receiver
 * last wrote them before it (`updated_at`, ours). Without the second, an entity whose events are old
 * but arrived today (a backfill, a replay of old history, a sender's clock far behind) would leave D1
 * within minutes, ahead of its own events, which are archived by when they were received.
 */
export const ENTITY_SOURCES: readonly ArchiveSource[] = (["order", "medication_request", "refill"] as const).map(
  entitySource,
);

export const AUDIT_SOURCE: ArchiveSource = {
  table: "audit",
  idColumn: "audit_id",
  timeColumn: "at",
  perClinic: false,
  condition: () => "1 = 1",
};

/** A clinic's day (`clinic_id` is '' for audit rows). */
export interface ArchiveUnit {
  clinic_id: string;
  day: string;
}

/** The oldest (day, clinic) with a row of `source` older than `cutoff` to archive, or null. */
export async function oldestUnit(db: D1Database, source: ArchiveSource, cutoff: string): Promise<ArchiveUnit | null> {
  const clinic = source.perClinic ? "clinic_id" : "''";
  return db
    .prepare(
      `SELECT ${clinic} AS clinic_id, substr(${source.timeColumn}, 1, 10) AS day FROM ${source.table}
WHERE ${source.timeColumn} < ?1 AND ${source.condition(() => "?1")}
ORDER BY ${source.timeColumn} LIMIT 1`,
    )
    .bind(cutoff)
    .first<ArchiveUnit>();
}

/**
 * Up to `limit` rows of `source` in `unit` whose time is before `end` (the day's end or the cutoff),
 * oldest first, after `after`.
 */
export async function unitRows(
  db: D1Database,
  source: ArchiveSource,
  unit: ArchiveUnit,
  range: { start: string; end: string; cutoff: string },
  after: ListPosition | null,
  limit: number,
): Promise<ArchivedRow[]> {
  const { table, idColumn: id, timeColumn: time } = source;
  const filters = where()
    .and(source.perClinic, (param) => `clinic_id = ${param(unit.clinic_id)}`)
    .and(true, (param) => `${time} >= ${param(range.start)} AND ${time} < ${param(range.end)}`)
    .and(true, (param) => source.condition(() => param(range.cutoff)))
    .after(after, { time, id }, "asc");
  const { results } = await db
    .prepare(`SELECT * FROM ${table} ${filters.clause} ORDER BY ${time}, ${id} LIMIT ${filters.param(limit)}`)
    .bind(...filters.values)
    .all<ArchivedRow>();
  return results;
}

/** The notifications of `eventIds` (all final: an event with another one is not archived yet). */
export async function notificationsOfEvents(db: D1Database, eventIds: readonly string[]): Promise<ArchivedRow[]> {
  const { results } = await db
    .prepare(
      `SELECT n.* FROM json_each(?1) AS e JOIN notifications AS n ON ${notificationsOfEventSql("n.", "e.value")}
ORDER BY n.event_id, n.channel`,
    )
    .bind(JSON.stringify(eventIds))
    .all<ArchivedRow>();
  return results;
}

/** The status history of `notificationIds`, oldest first per notification. */
export async function historyOfNotifications(
  db: D1Database,
  notificationIds: readonly string[],
): Promise<ArchivedRow[]> {
  const { results } = await db
    .prepare(
      `SELECT notification_id, status, at, error, provider_message_id
FROM (${statusHistorySql("IN (SELECT value FROM json_each(?1))")})
ORDER BY notification_id, at, seq`,
    )
    .bind(JSON.stringify(notificationIds))
    .all<ArchivedRow>();
  return results;
}

/**
 * The next part number of a unit: one past its last recorded object. An object written but never
 * recorded (its run died) is not counted, so the retry rewrites that same key.
 */
export async function nextPart(db: D1Database, kind: ArchiveKind, unit: ArchiveUnit): Promise<number> {
  const row = await db
    .prepare(
      `SELECT COALESCE(MAX(part) + 1, 0) AS part FROM archive_objects WHERE kind = ?1 AND clinic_id = ?2 AND day = ?3`,
    )
    .bind(kind, unit.clinic_id, unit.day)
    .first<{ part: number }>();
  return row?.part ?? 0;
}

export type ArchiveKind = "history" | "audit";

export interface ArchiveObjectRow {
  object_id: number;
  object_key: string;
  kind: ArchiveKind;
  clinic_id: string;
  day: string;
  part: number;
  state: "written" | "deleted";
  line_count: number;
  bytes: number;
  written_at: string;
  deleted_at: string | null;
  /** 1 its entities are indexed, 0 not yet (archived before they were), -1 unreadable when tried (0187). */
  entities_indexed: number;
}

/** Records an object that is in R2 and was read back whole; its rows are still in D1. Returns its id. */
export async function insertArchiveObject(
  db: D1Database,
  object: Pick<ArchiveObjectRow, "object_key" | "kind" | "clinic_id" | "day" | "part" | "line_count" | "bytes">,
  now: string,
): Promise<number> {
  const row = await db
    .prepare(
      `INSERT INTO archive_objects (object_key, kind, clinic_id, day, part, state, line_count, bytes, written_at)
VALUES (?1, ?2, ?3, ?4, ?5, 'written', ?6, ?7, ?8) RETURNING object_id`,
    )
    .bind(
      object.object_key,
      object.kind,
      object.clinic_id,
      object.day,
      object.part,
      object.line_count,
      object.bytes,
      now,
    )
    .first<{ object_id: number }>();
  if (!row) throw new Error("archive object not recorded");
  return row.object_id;
}

/** Objects written whose rows may still be in D1 (a run ended between the write and the delete). */
export async function pendingArchiveObjects(db: D1Database, limit: number): Promise<ArchiveObjectRow[]> {
  const { results } = await db
    .prepare(`SELECT * FROM archive_objects WHERE state = 'written' ORDER BY written_at, object_id LIMIT ?1`)
    .bind(limit)
    .all<ArchiveObjectRow>();
  return results;
}

/** History objects whose entities are not indexed yet (archived before they were), oldest first. */
export async function objectsWithoutEntityIndex(db: D1Database, limit: number): Promise<ArchiveObjectRow[]> {
  const { results } = await db
    .prepare(`SELECT * FROM archive_objects WHERE entities_indexed = 0 ORDER BY object_id LIMIT ?1`)
    .bind(limit)
    .all<ArchiveObjectRow>();
  return results;
}

/** Records that an object's entities are indexed (1), or that it could not be read back to index them (-1). */
export function markEntitiesIndexed(db: D1Database, objectId: number, state: 1 | -1): D1PreparedStatement {
  return db
    .prepare(`UPDATE archive_objects SET entities_indexed = ?2 WHERE object_id = ?1 AND entities_indexed = 0`)
    .bind(objectId, state);
}

export function markArchiveObjectDeleted(db: D1Database, objectId: number, now: string): D1PreparedStatement {
  return db
    .prepare(`UPDATE archive_objects SET state = 'deleted', deleted_at = ?2 WHERE object_id = ?1 AND state = 'written'`)
    .bind(objectId, now);
}

/**
 * What a row must still look like to be deleted: its id, then the columns that change whenever
 * anything happens to it. A row that changed after it was written (a forced replay, say) stays in D1
 * and is archived again later, so the delete never removes a row whose archived copy is stale.
 */
export const DELETE_GUARDS: Partial<Record<ArchivedTable, { idColumn: string; unchanged: readonly string[] }>> = {
  events: { idColumn: "event_id", unchanged: ["status", "attempts", "applications"] },
  notifications: { idColumn: "notification_id", unchanged: ["status", "updated_at"] },
  orders: { idColumn: "order_id", unchanged: ["status", "updated_at"] },
  medication_requests: { idColumn: "medication_request_id", unchanged: ["status", "updated_at"] },
  refills: { idColumn: "refill_id", unchanged: ["status", "updated_at"] },
  audit: { idColumn: "audit_id", unchanged: [] },
};

/**
 * Deletes the rows of `table` listed in `keys` (each `[id, ...unchanged columns]` as archived) that
 * are still exactly as archived. A notification's status history goes with it (trigger of 0011).
 */
export function deleteArchivedRows(
  db: D1Database,
  table: ArchivedTable,
  keys: readonly unknown[][],
): D1PreparedStatement {
  const guard = DELETE_GUARDS[table];
  if (!guard) throw new Error(`${table} rows are not deleted directly`);
  const matches = guard.unchanged.map((column, index) => `t.${column} IS json_extract(j.value, '$[${index + 1}]')`);
  return db
    .prepare(
      `DELETE FROM ${table} WHERE ${guard.idColumn} IN (
  SELECT t.${guard.idColumn} FROM json_each(?1) j JOIN ${table} t ON t.${guard.idColumn} = json_extract(j.value, '$[0]')
  ${matches.length > 0 ? `WHERE ${matches.join(" AND ")}` : ""})`,
    )
    .bind(JSON.stringify(keys));
}

/**
 * The archived-event index (migration 0183): a row per bucket of keys (the top 16 of their 53 bits),
 * to which each archived event appends an {@link indexEntry} of {@link INDEX_ENTRY_CHARS} characters.
 * A bucket's last row grows to {@link INDEX_ROW_CHARS} and the next one starts, so a row stays inside
 * a page.
 */
export const INDEX_BUCKET_SHIFT = 37;
export const INDEX_ENTRY_CHARS = 8;
export const INDEX_ROW_CHARS = 120 * INDEX_ENTRY_CHARS;
/** An entry's two parts: the key's low 18 bits, then the object's id (30 bits, about a billion objects). */
const TAG_BITS = 18;
const OBJECT_BITS = 30;
/** An entry's bytes: 48 bits, which base64url writes in 8 characters without padding. */
const ENTRY_BYTES = 6;

/** The bucket (its row's key) of an event key. */
export const bucketOf = (key: number) => Math.floor(key / 2 ** INDEX_BUCKET_SHIFT);
const tagOf = (key: number) => key % 2 ** TAG_BITS;

/**
 * An event's entry: 48 bits, its key's low 18 then its object's id, in base64url (Hono's codec, as
 * the page cursors). With the bucket that is 34 bits of the key: among a year of archived events at
 * 100,000 a day, about one lookup in 470 finds another event sharing them, which costs it one more
 * object to open.
 */
export function indexEntry(key: number, objectId: number): string {
  if (!Number.isInteger(objectId) || objectId < 0 || objectId >= 2 ** OBJECT_BITS)
    throw new Error("archive object id out of the index's range");
  const value = tagOf(key) * 2 ** OBJECT_BITS + objectId;
  const bytes = new DataView(new ArrayBuffer(ENTRY_BYTES));
  bytes.setUint16(0, Math.floor(value / 2 ** 32));
  bytes.setUint32(2, value % 2 ** 32);
  return encodeBase64Url(bytes.buffer);
}

/** A bucket row's entries, read on entry boundaries: each one's tag (its key's low 18 bits) and object. */
export function readIndexEntries(entries: string): { tag: number; objectId: number }[] {
  const bytes = decodeBase64Url(entries);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read: { tag: number; objectId: number }[] = [];
  for (let start = 0; start + ENTRY_BYTES <= bytes.byteLength; start += ENTRY_BYTES) {
    const value = view.getUint16(start) * 2 ** 32 + view.getUint32(start + 2);
    read.push({ tag: Math.floor(value / 2 ** OBJECT_BITS), objectId: value % 2 ** OBJECT_BITS });
  }
  return read;
}

/** The objects a bucket row's entries name for `key`. */
export function objectIdsInEntries(entries: string, key: number): number[] {
  return readIndexEntries(entries)
    .filter((entry) => entry.tag === tagOf(key))
    .map((entry) => entry.objectId);
}

/** An archived event: its id and its {@link eventKey}. */
export interface ArchivedEventKey {
  eventId: string;
  key: number;
}

/**
 * Indexes archived events under `objectId`: each one's entry goes to its bucket's last row. Only the
 * events still in D1 are indexed, so a batch that repeats after its delete committed (the run died
 * before marking the object `deleted`) adds nothing; it runs before the delete in the same batch.
 */
export function indexArchivedEvents(
  db: D1Database,
  events: readonly ArchivedEventKey[],
  objectId: number,
): D1PreparedStatement {
  return indexStatement(
    db,
    INDEX_SQL.events,
    events.map(({ eventId, key }) => ({ id: eventId, key })),
    objectId,
  );
}

/**
 * Indexes archived entities (orders, medication requests, refills) under `objectId` in the same index,
 * by {@link entityKey}, so the entity routes find an entity that left D1. As for events, only the
 * rows still in D1 are indexed, and the statement runs before their delete in the same batch.
 */
export function indexArchivedEntities(
  db: D1Database,
  kind: EntityKind,
  entities: readonly { id: string; key: number }[],
  objectId: number,
): D1PreparedStatement {
  return indexStatement(db, INDEX_SQL[kind], entities, objectId);
}

/**
 * Indexes the entities of an object archived before entities were indexed (the backfill,
 * src/archive/entity-backfill.ts). Their rows left D1 long ago, so the guard is the object's own mark
 * instead: the statement adds nothing once the object is marked, and it runs before the mark in the
 * same batch, so a batch that repeats after it committed adds nothing either.
 */
export function backfillEntityIndex(
  db: D1Database,
  entities: readonly { id: string; key: number }[],
  objectId: number,
): D1PreparedStatement {
  return db.prepare(BACKFILL_SQL).bind(indexTriples(entities, objectId), objectId);
}

/** `sql` ({@link indexSql}) bound to each row's [id, bucket, entry] under `objectId`. */
function indexStatement(
  db: D1Database,
  sql: string,
  rows: readonly { id: string; key: number }[],
  objectId: number,
): D1PreparedStatement {
  return db.prepare(sql).bind(indexTriples(rows, objectId));
}

/** The index statements' ?1: each row's [id, bucket, entry] under `objectId`, as JSON. */
function indexTriples(rows: readonly { id: string; key: number }[], objectId: number): string {
  return JSON.stringify(rows.map(({ id, key }) => [id, bucketOf(key), indexEntry(key, objectId)]));
}

/** The index's INSERT for rows of `table` still in D1 (?1: [id, bucket, entry] triples). */
function indexSql(table: string, idColumn: string): string {
  return indexSqlWhere(`EXISTS (SELECT 1 FROM ${table} e WHERE e.${idColumn} = json_extract(j.value, '$[0]'))`);
}

/** The index's INSERT of the ?1 triples that meet `condition`: each bucket's entries appended to its last row. */
function indexSqlWhere(condition: string): string {
  return `WITH incoming AS (
  SELECT json_extract(j.value, '$[1]') AS bucket, json_extract(j.value, '$[2]') AS entry FROM json_each(?1) j
  WHERE ${condition}),
grouped AS (SELECT bucket, group_concat(entry, '') AS entries FROM incoming GROUP BY bucket)
INSERT INTO archived_event_buckets (bucket, seq, entries)
SELECT g.bucket, COALESCE((
    SELECT b.seq + (length(b.entries) + length(g.entries) > ${INDEX_ROW_CHARS}) FROM archived_event_buckets b
    WHERE b.bucket = g.bucket ORDER BY b.seq DESC LIMIT 1), 0), g.entries
FROM grouped g WHERE true
ON CONFLICT (bucket, seq) DO UPDATE SET entries = entries || excluded.entries`;
}

/** The backfill's INSERT: the triples only while object ?2 still waits for its entities' index. */
const BACKFILL_SQL = indexSqlWhere(
  "EXISTS (SELECT 1 FROM archive_objects o WHERE o.object_id = ?2 AND o.entities_indexed = 0)",
);

const INDEX_SQL: Record<"events" | EntityKind, string> = {
  events: indexSql("events", "event_id"),
  ...(Object.fromEntries(
    ENTITY_KINDS.map((kind) => [kind, indexSql(ENTITY_TABLES[kind].table, ENTITY_TABLES[kind].idColumn)]),
  ) as Record<EntityKind, string>),
};

/**
 * The objects D1's index names for the event with this key: those its bucket's entries name, and
 * those `archived_events` names (what the release before migration 0183 indexed). Entries shelved in
 * R2 (src/archive/shelf.ts) are not among them.
 */
export async function indexedObjectIds(db: D1Database, key: number): Promise<Set<number>> {
  const { results } = await db
    .prepare(
      `SELECT entries, NULL AS object_id FROM archived_event_buckets WHERE bucket = ?1
UNION ALL SELECT NULL, object_id FROM archived_events WHERE event_key = ?2`,
    )
    .bind(bucketOf(key), key)
    .all<{ entries: string | null; object_id: number | null }>();
  const ids = new Set<number>();
  for (const row of results) {
    if (row.object_id !== null) ids.add(row.object_id);
    for (const id of objectIdsInEntries(row.entries ?? "", key)) ids.add(id);
  }
  return ids;
}

/** The keys of these archive objects, newest first. */
export async function objectKeysNewestFirst(db: D1Database, ids: ReadonlySet<number>): Promise<string[]> {
  if (ids.size === 0) return [];
  const objects = await db
    .prepare(
      `SELECT object_key FROM archive_objects WHERE object_id IN (SELECT value FROM json_each(?1)) ORDER BY object_id DESC`,
    )
    .bind(JSON.stringify([...ids]))
    .all<{ object_key: string }>();
  return objects.results.map((row) => row.object_key);
}

/**
 * The index's buckets are shelved in R2 by range: {@link SHELF_RANGES} ranges of consecutive buckets,
 * an R2 object (or a few) each.
 */
export const SHELF_RANGES = 256;
const BUCKETS_PER_RANGE = 2 ** (53 - INDEX_BUCKET_SHIFT) / SHELF_RANGES;
export const rangeOf = (bucket: number) => Math.floor(bucket / BUCKETS_PER_RANGE);

/** A row of the index as stored. */
export interface IndexRow {
  bucket: number;
  seq: number;
  entries: string;
}

/**
 * The closed rows of a range, in key order: rows that are not their bucket's last, at most
 * `perBucket` of each bucket, its oldest. Only a bucket's last row grows, so a closed row never
 * changes again; the last row stays in D1, and the bucket's next row follows it. A bucket's rows are
 * in the order its events were archived, so its oldest rows are the ones that may be old enough.
 */
export async function closedIndexRows(db: D1Database, range: number, perBucket: number): Promise<IndexRow[]> {
  const { results } = await db
    .prepare(
      `SELECT bucket, seq, entries FROM archived_event_buckets b WHERE bucket BETWEEN ?1 AND ?2
AND seq < (SELECT MAX(last.seq) FROM archived_event_buckets last WHERE last.bucket = b.bucket)
AND seq < (SELECT MIN(first.seq) FROM archived_event_buckets first WHERE first.bucket = b.bucket) + ?3
ORDER BY bucket, seq`,
    )
    .bind(range * BUCKETS_PER_RANGE, (range + 1) * BUCKETS_PER_RANGE - 1, perBucket)
    .all<IndexRow>();
  return results;
}

/** Those of `ids` whose archive object was written at or after `since`. */
export async function objectsWrittenSince(
  db: D1Database,
  ids: ReadonlySet<number>,
  since: string,
): Promise<Set<number>> {
  if (ids.size === 0) return new Set();
  const { results } = await db
    .prepare(
      `SELECT object_id FROM archive_objects WHERE object_id IN (SELECT value FROM json_each(?1)) AND written_at >= ?2`,
    )
    .bind(JSON.stringify([...ids]), since)
    .all<{ object_id: number }>();
  return new Set(results.map((row) => row.object_id));
}

/** Deletes index rows by key (closed rows, shelved in R2 first). */
export function deleteIndexRows(
  db: D1Database,
  rows: readonly Pick<IndexRow, "bucket" | "seq">[],
): D1PreparedStatement {
  return db
    .prepare(
      `DELETE FROM archived_event_buckets WHERE (bucket, seq) IN (
  SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1))`,
    )
    .bind(JSON.stringify(rows.map((row) => [row.bucket, row.seq])));
}

/**
 * An archived entity's index key: its kind and id hashed as {@link eventKey} does an event id. The
 * kind keeps an order and a refill that share an id apart, and no event id has its form.
 */
export const entityKey = (kind: EntityKind, id: string): Promise<number> => eventKey(`${kind}:${id}`);

/**
 * 53 bits of SHA-256 of an event id: the index key. 53 bits is what both a JavaScript number and a
 * D1 binding carry exactly; a shared key only costs the reader one more object to open.
 */
export async function eventKey(eventId: string): Promise<number> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(eventId)));
  let key = (digest[0] ?? 0) & 0x1f;
  for (let index = 1; index < 7; index += 1) key = key * 256 + (digest[index] ?? 0);
  return key;
}

/** Forgets expired audit objects (deleted from R2 by the caller) from the manifest. */
export async function forgetAuditObjectsBefore(db: D1Database, day: string): Promise<number> {
  const result = await db
    .prepare(`DELETE FROM archive_objects WHERE kind = 'audit' AND clinic_id = '' AND day < ?1 AND state = 'deleted'`)
    .bind(day)
    .run();
  return result.meta.changes ?? 0;
}

/**
 * D1's size in bytes, as the database reports it in a result's `meta.size_after` (a one-row read); null
 * when the runtime does not report it. Pages freed by deletes leave that size (checked on workerd).
 */
export async function databaseBytes(db: D1Database): Promise<number | null> {
  const { meta } = await db.prepare("SELECT 1").run();
  const size: unknown = meta.size_after;
  return typeof size === "number" && size > 0 ? size : null;
}

/**
 * Takes the archive's run lease (one run at a time: two would pick the same object key) until
 * `expiresAt` (epoch ms); false when another run holds it.
 */
export async function takeArchiveLease(db: D1Database, now: number, expiresAt: number): Promise<boolean> {
  const row = await db
    .prepare(
      `INSERT INTO archive_lease (name, expires_at) VALUES ('archive', ?2)
ON CONFLICT (name) DO UPDATE SET expires_at = ?2 WHERE archive_lease.expires_at <= ?1
RETURNING expires_at`,
    )
    .bind(now, expiresAt)
    .first<{ expires_at: number }>();
  return row !== null;
}

export async function releaseArchiveLease(db: D1Database, expiresAt: number): Promise<void> {
  await db
    .prepare(`UPDATE archive_lease SET expires_at = 0 WHERE name = 'archive' AND expires_at = ?1`)
    .bind(expiresAt)
    .run();
}
