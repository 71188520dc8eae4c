import { env } from "cloudflare:workers";
import { decodeLines } from "../../src/archive/ndjson";
import { wrapDatabase } from "../helpers/d1";
import { uniqueId } from "../helpers/events";

/** A clinic of its own per test: the archive works oldest clinic-day first across the whole file's D1. */
export const newClinic = () => crypto.randomUUID();

export interface SeededDay {
  eventIds: string[];
  notificationIds: string[];
  orderIds: string[];
}

/**
 * `count` finished orders of `clinic` on `day`: per order one processed event with a sent-then-
 * delivered SMS (two status history rows) and the delivered order itself.
 */
export async function seedFinishedDay(clinic: string, day: string, count: number): Promise<SeededDay> {
  const seeded: SeededDay = { eventIds: [], notificationIds: [], orderIds: [] };
  const statements: D1PreparedStatement[] = [];
  for (let index = 0; index < count; index += 1) {
    const at = `${day}T10:00:${String(index % 60).padStart(2, "0")}.${String(index).padStart(3, "0")}Z`;
    const eventId = uniqueId("evt_arch");
    const notificationId = uniqueId("ntf_arch");
    const orderId = uniqueId("ord_arch");
    seeded.eventIds.push(eventId);
    seeded.notificationIds.push(notificationId);
    seeded.orderIds.push(orderId);
    statements.push(insertEvent(eventId, clinic, at, "processed"));
    statements.push(
      env.DB.prepare(
        `INSERT INTO notifications (notification_id, event_id, channel, kind, patient_id, entity_id, status, created_at, updated_at)
         VALUES (?1, ?2, 'sms', 'order_delivered', 'pat_archive', ?3, 'sent', ?4, ?4)`,
      ).bind(notificationId, eventId, orderId, at),
      env.DB.prepare(`UPDATE notifications SET status = 'delivered', updated_at = ?2 WHERE notification_id = ?1`).bind(
        notificationId,
        at.replace("T10:", "T11:"),
      ),
      env.DB.prepare(
        `INSERT INTO orders (order_id, clinic_id, patient_id, status, status_rank, status_at, status_event_id,
           first_event_at, last_event_at, updated_at)
         VALUES (?1, ?2, 'pat_archive', 'delivered', 4, ?3, ?4, ?3, ?3, ?3)`,
      ).bind(orderId, clinic, at, eventId),
    );
  }
  await env.DB.batch(statements);
  return seeded;
}

export function insertEvent(eventId: string, clinic: string, receivedAt: string, status: string): D1PreparedStatement {
  return env.DB.prepare(
    `INSERT INTO events (event_id, event_type, clinic_id, status, attempts, occurred_at, received_at, processed_at,
       payload_hash, applications)
     VALUES (?1, 'order:delivered', ?2, ?3, 1, ?4, ?4, ?4, 'hash', 1)`,
  ).bind(eventId, clinic, status, receivedAt);
}

/** A bucket's rows of the archived-event index, in order. */
export async function bucketRows(bucket: number) {
  const { results } = await env.DB.prepare(
    `SELECT seq, entries FROM archived_event_buckets WHERE bucket = ?1 ORDER BY seq`,
  )
    .bind(bucket)
    .all<{ seq: number; entries: string }>();
  return results;
}

/** Every line of every object under `prefix`, with the key it came from. */
export async function archivedLines(prefix: string) {
  const listing = await env.ARCHIVE.list({ prefix });
  const lines = [];
  for (const object of listing.objects) {
    const body = await env.ARCHIVE.get(object.key);
    if (!body) continue;
    for (const line of await decodeLines(await body.arrayBuffer())) lines.push({ key: object.key, ...line });
  }
  return { keys: listing.objects.map((object) => object.key), lines };
}

/** How many times each id of `table` appears in the lines. */
export function idCounts(lines: { table: string; row: Record<string, unknown> }[], table: string, idColumn: string) {
  const counts = new Map<string, number>();
  for (const line of lines.filter((candidate) => candidate.table === table)) {
    const id = String(line.row[idColumn]);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

export async function countWhereIn(table: string, idColumn: string, ids: readonly string[]): Promise<number> {
  const row = await env.DB.prepare(
    `SELECT COUNT(*) AS n FROM ${table} WHERE ${idColumn} IN (SELECT value FROM json_each(?1))`,
  )
    .bind(JSON.stringify(ids))
    .first<{ n: number }>();
  return row?.n ?? 0;
}

type Step = "put" | "put-then-crash" | "read-back" | "corrupt-read-back" | "locked";

/**
 * The ARCHIVE bucket failing at one step of the write (or locked) for the keys under `under` (every
 * key by default); every other call passes through.
 */
export function failingBucket(step: Step, under = ""): R2Bucket {
  const bucket = env.ARCHIVE;
  return new Proxy(bucket, {
    get(target, property) {
      const value = Reflect.get(target, property);
      const passThrough = typeof value === "function" ? value.bind(target) : value;
      if (property === "put") {
        return async (...args: Parameters<R2Bucket["put"]>) => {
          if (!args[0].startsWith(under)) return target.put(...args);
          if (step === "put") throw new Error("R2 unavailable");
          // An R2 bucket lock refuses to overwrite an object it holds.
          if (step === "locked" && (await target.head(args[0]))) throw new Error("object is locked");
          const written = await target.put(...args);
          if (step === "put-then-crash") throw new Error("invocation ended after the put");
          return written;
        };
      }
      if (property === "get" && (step === "read-back" || step === "corrupt-read-back")) {
        return async (key: string) => {
          if (!key.startsWith(under)) return target.get(key);
          if (step === "read-back") throw new Error("R2 unavailable");
          const corrupt = new TextEncoder().encode("not gzip");
          return { arrayBuffer: async () => corrupt.buffer, text: async () => "not gzip" };
        };
      }
      return passThrough;
    },
  });
}

/** `env.DB` whose `batch` calls fail from the `failFrom`-th on (1-based); counts every prepared statement. */
export function countingDatabase(failFrom = Number.POSITIVE_INFINITY) {
  const counter = { prepared: 0, batches: 0 };
  const database = wrapDatabase(env.DB, {
    prepare: (sql, prepare) => {
      counter.prepared += 1;
      return prepare(sql);
    },
    batch: async (statements, batch) => {
      counter.batches += 1;
      if (counter.batches >= failFrom) throw new Error("D1 unavailable");
      return batch(statements);
    },
  });
  return { database, counter };
}
