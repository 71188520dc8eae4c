import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { QUEUE_BACKOFF, QUEUES_MAX_DELAY_SECONDS, retryDelaySeconds } from "../../src/backoff";
import { attemptLogUpsert, outbox } from "../../src/db/outbox";
import { nextTrySeconds, retryAfterSeconds, scheduleSpanSeconds } from "../../src/outbox/backoff";
import { leaseCovers, newLease } from "../../src/outbox/lease";
import { sweepOutbox } from "../../src/outbox/sweep";
import { wrapDatabase } from "../helpers/d1";
import { uniqueId } from "../helpers/events";

/**
 * The outbox machinery on a table of its own (not `notifications`): what a new outbound path gets
 * from a spec alone. One row per (change, destination), like forwarding's.
 */
const DELIVERIES = outbox<"change_id" | "destination_id">({
  table: "test_outbox_deliveries",
  idColumn: "delivery_id",
  keyColumns: ["change_id", "destination_id"],
  openStatuses: ["pending"],
  unknownOutcomeColumns: ["call_started_at"],
});

const T0 = Date.parse("2026-01-15T15:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();

beforeAll(async () => {
  await env.DB.exec(
    "CREATE TABLE IF NOT EXISTS test_outbox_deliveries (delivery_id TEXT PRIMARY KEY, change_id TEXT NOT NULL, destination_id TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, error TEXT, lease_token TEXT, lease_expires_at INTEGER, next_attempt_at TEXT, call_started_at TEXT, updated_at TEXT NOT NULL, UNIQUE (change_id, destination_id))",
  );
  await env.DB.exec(
    "CREATE TABLE IF NOT EXISTS test_attempt_log (thing_id TEXT NOT NULL, channel TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, delivered_at TEXT, PRIMARY KEY (thing_id, channel))",
  );
});

async function addRow(updatedAt: number): Promise<{ id: string; key: { change_id: string; destination_id: string } }> {
  const id = uniqueId("dlv");
  const key = { change_id: uniqueId("chg"), destination_id: "dst_1" };
  await env.DB.prepare(
    "INSERT INTO test_outbox_deliveries (delivery_id, change_id, destination_id, status, updated_at) VALUES (?1, ?2, ?3, 'pending', ?4)",
  )
    .bind(id, key.change_id, key.destination_id, iso(updatedAt))
    .run();
  return { id, key };
}

const rowOf = (id: string) =>
  env.DB.prepare("SELECT * FROM test_outbox_deliveries WHERE delivery_id = ?1").bind(id).first<{
    status: string;
    attempts: number;
    error: string | null;
    lease_token: string | null;
    call_started_at: string | null;
  }>();

const record = (id: string, status: string, token: string, now: number) =>
  env.DB.prepare(DELIVERIES.recordSql("status = ?2", { now: "?3", id: "?1", token: "?4" }))
    .bind(id, status, iso(now), token)
    .run();

describe("the outbox machinery on any table", () => {
  it("claims a row under one lease at a time; another claimer sees it leased until the lease runs out", async () => {
    const { id, key } = await addRow(T0);
    const first = newLease(T0, 60_000);
    const second = newLease(T0 + 1_000, 60_000);

    const claimed = await DELIVERIES.claim<{ delivery_id: string; attempts: number }>(env.DB, [key], first, T0);
    expect(claimed.claimed.map((row) => [row.delivery_id, row.attempts])).toEqual([[id, 1]]);

    const refused = await DELIVERIES.claim(env.DB, [key], second, T0 + 1_000);
    expect(refused.claimed).toEqual([]);
    expect(refused.leasedElsewhere).toEqual([{ ...key, lease_expires_at: first.expiresAt }]);

    // The same lease again (a claim whose answer was lost) gets its row back.
    expect((await DELIVERIES.claim(env.DB, [key], first, T0 + 2_000)).claimed).toHaveLength(1);
    // Once the first lease ran out, the second claimer takes the row over.
    const later = newLease(first.expiresAt, 60_000);
    expect((await DELIVERIES.claim(env.DB, [key], later, first.expiresAt)).claimed).toHaveLength(1);
    expect((await rowOf(id))?.attempts).toBe(3);
  });

  it("claims a whole batch of jobs in one round trip of two statements, whatever its size", async () => {
    const rows = await Promise.all([addRow(T0), addRow(T0), addRow(T0), addRow(T0)]);
    const [free, again, heldRow, done] = rows;
    const other = newLease(T0, 60_000);
    await DELIVERIES.claim(env.DB, [heldRow!.key], other, T0);
    await env.DB.prepare("UPDATE test_outbox_deliveries SET status = 'delivered' WHERE delivery_id = ?1")
      .bind(done!.id)
      .run();
    const statements: string[] = [];
    let batches = 0;
    const counting = wrapDatabase(env.DB, {
      batch: (list, batch) => {
        batches += 1;
        statements.push(...list.map(() => "statement"));
        return batch(list);
      },
    });
    const lease = newLease(T0 + 1_000, 60_000);
    const missing = { change_id: uniqueId("chg"), destination_id: "dst_1" };
    const result = await DELIVERIES.claim<{ delivery_id: string; attempts: number }>(
      counting,
      [free!.key, again!.key, again!.key, heldRow!.key, done!.key, missing],
      lease,
      T0 + 1_000,
    );
    expect({ batches, statements: statements.length }).toEqual({ batches: 1, statements: 2 });
    // A key named twice is claimed once; a row held elsewhere, a final row and a missing one are not.
    expect(result.claimed.map((row) => [row.delivery_id, row.attempts]).sort()).toEqual(
      [
        [free!.id, 1],
        [again!.id, 1],
      ].sort(),
    );
    expect(result.leasedElsewhere).toEqual([{ ...heldRow!.key, lease_expires_at: other.expiresAt }]);
    expect((await rowOf(free!.id))?.lease_token).toBe(lease.token);
  });

  it("reads rows without writing, and each is taken by its first write: once, by the first of two readers", async () => {
    const rows = await Promise.all([addRow(T0), addRow(T0), addRow(T0)]);
    const [taken, given, heldRow] = rows;
    const other = newLease(T0, 60_000);
    await DELIVERIES.claim(env.DB, [heldRow!.key], other, T0);
    const keys = rows.map((row) => row.key);
    type Read = { delivery_id: string; attempts: number; lease_token: string | null };
    const first = await DELIVERIES.read<Read>(env.DB, keys, T0 + 1_000);
    const second = await DELIVERIES.read<Read>(env.DB, keys, T0 + 1_000);
    expect(first.free.map((row) => row.delivery_id).sort()).toEqual([taken!.id, given!.id].sort());
    expect(first.leasedElsewhere).toEqual([{ ...heldRow!.key, lease_expires_at: other.expiresAt }]);
    // Reading wrote nothing: no lease, no attempt.
    expect(await rowOf(taken!.id)).toMatchObject({ attempts: 0, lease_token: null });

    const take = (token: string, attempts: number, expiresAt: number, tokenRead: string | null = null) =>
      env.DB.prepare(
        DELIVERIES.takeSql("status = ?2", "hold", {
          id: "?1",
          now: "?3",
          token: "?4",
          expiresAt: "?5",
          attempts: "?6",
          nowMs: "?7",
          tokenRead: "?8",
        }),
      )
        .bind(taken!.id, "pending", iso(T0 + 2_000), token, expiresAt, attempts, T0 + 2_000, tokenRead)
        .run();
    const a = newLease(T0 + 2_000, 60_000);
    const b = newLease(T0 + 2_000, 60_000);
    const attemptsRead = first.free.find((row) => row.delivery_id === taken!.id)!.attempts;
    expect((await take(a.token, attemptsRead, a.expiresAt)).meta.changes).toBe(1);
    // The other reader read the same attempts: the row is no longer the one it read.
    expect((await take(b.token, attemptsRead, b.expiresAt)).meta.changes).toBe(0);
    // A repeat by the taker (an answer lost) is its own again, and counts no second attempt.
    expect((await take(a.token, attemptsRead, a.expiresAt)).meta.changes).toBe(1);
    expect(await rowOf(taken!.id)).toMatchObject({ attempts: 1, lease_token: a.token });
    // It is held: a new read sees it leased elsewhere; once the lease ran out, it is free again.
    expect((await DELIVERIES.read<Read>(env.DB, [taken!.key], T0 + 3_000)).leasedElsewhere).toHaveLength(1);
    expect((await DELIVERIES.read<Read>(env.DB, [taken!.key], a.expiresAt)).free).toHaveLength(1);

    // A give-back taking its row: by the first reader only.
    const givenRead = second.free.find((row) => row.delivery_id === given!.id)!;
    const giveBack = (lease: { token: string }) =>
      DELIVERIES.retryLater(
        env.DB,
        given!.id,
        "answered 503",
        { ...lease, expiresAt: 0 },
        iso(T0 + 2_000),
        iso(T0 + 9_000),
        false,
        {
          attempts: givenRead.attempts,
          token: givenRead.lease_token,
          nowMs: T0 + 2_000,
        },
      ).run();
    expect((await giveBack(a)).meta.changes).toBe(1);
    expect((await giveBack(b)).meta.changes).toBe(0);
    expect(await rowOf(given!.id)).toMatchObject({ attempts: 1, lease_token: null, error: "answered 503" });

    // A row a claim takes after the read (the release before claimed first) is not taken from the read.
    const claimedAfter = await addRow(T0);
    const read = await DELIVERIES.read<Read>(env.DB, [claimedAfter.key], T0 + 1_000);
    await DELIVERIES.claim(env.DB, [claimedAfter.key], newLease(T0 + 1_000, 60_000), T0 + 1_000);
    expect(
      (
        await DELIVERIES.retryLater(env.DB, claimedAfter.id, "e", a, iso(T0 + 90_000), iso(T0 + 99_000), false, {
          attempts: read.free[0]!.attempts,
          token: read.free[0]!.lease_token,
          nowMs: T0 + 90_000,
        }).run()
      ).meta.changes,
    ).toBe(0);

    // A row whose lease was cleared after the read (a staff reopen of a waiting row clears the token
    // and leaves the attempts) is not taken from the read either.
    const expired = await DELIVERIES.read<Read>(env.DB, [taken!.key], a.expiresAt);
    const readRow = expired.free[0]!;
    expect(readRow.lease_token).toBe(a.token);
    await env.DB.prepare(
      "UPDATE test_outbox_deliveries SET lease_token = NULL, lease_expires_at = NULL WHERE delivery_id = ?1",
    )
      .bind(taken!.id)
      .run();
    const c = newLease(a.expiresAt, 60_000);
    expect((await take(c.token, readRow.attempts, c.expiresAt, readRow.lease_token)).meta.changes).toBe(0);
    expect((await take(c.token, readRow.attempts, c.expiresAt, null)).meta.changes).toBe(1);
  });

  it("records an outcome only under the lease that holds the row, and a repeat of that write still counts", async () => {
    const { id, key } = await addRow(T0);
    const stale = newLease(T0, 60_000);
    await DELIVERIES.claim(env.DB, [key], stale, T0);
    const current = newLease(stale.expiresAt, 60_000);
    await DELIVERIES.claim(env.DB, [key], current, stale.expiresAt);

    expect((await record(id, "delivered", stale.token, stale.expiresAt + 1)).meta.changes).toBe(0);
    expect((await rowOf(id))?.status).toBe("pending");
    expect((await record(id, "delivered", current.token, stale.expiresAt + 2)).meta.changes).toBe(1);
    expect((await record(id, "delivered", current.token, stale.expiresAt + 3)).meta.changes).toBe(1);
    expect((await rowOf(id))?.status).toBe("delivered");
  });

  it("gives a row back for a later try; the sweep leaves it until that try is overdue", async () => {
    const { id, key } = await addRow(T0);
    const lease = newLease(T0, 60_000);
    await DELIVERIES.claim(env.DB, [key], lease, T0);
    await env.DB.prepare("UPDATE test_outbox_deliveries SET call_started_at = ?2 WHERE delivery_id = ?1")
      .bind(id, iso(T0))
      .run();
    const retryAt = T0 + 3_600_000;
    await DELIVERIES.retryLater(env.DB, id, "answered 503", lease, iso(T0), iso(retryAt), true).run();
    expect(await rowOf(id)).toMatchObject({ lease_token: null, error: "answered 503", call_started_at: iso(T0) });

    const swept = (at: number) => DELIVERIES.takeStale(env.DB, iso(at - 300_000), iso(at), 100);
    expect((await swept(T0 + 600_000)).map((row) => row.change_id)).not.toContain(key.change_id);
    expect(await swept(retryAt + 600_000)).toContainEqual(key);
    // Taken once: `updated_at` moved, so the next sweep right after leaves it.
    expect(await swept(retryAt + 600_001)).not.toContainEqual(key);
  });

  it("dead-letters open rows, but never one under a live lease or with an unknown outcome", async () => {
    const plain = await addRow(T0);
    const leased = await addRow(T0);
    const unknown = await addRow(T0);
    await DELIVERIES.claim(env.DB, [leased.key], newLease(T0, 60_000), T0);
    await env.DB.prepare("UPDATE test_outbox_deliveries SET call_started_at = ?2 WHERE delivery_id = ?1")
      .bind(unknown.id, iso(T0))
      .run();

    expect(await DELIVERIES.deadLetter(env.DB, [plain.key, leased.key, unknown.key], T0 + 1_000)).toBe(1);
    expect(await rowOf(plain.id)).toMatchObject({ status: "failed", error: "retries exhausted" });
    expect((await rowOf(leased.id))?.status).toBe("pending");
    expect((await rowOf(unknown.id))?.status).toBe("pending");
  });

  it("records a lease-less delivery log's first delivery once, counting every attempt", async () => {
    const thing = uniqueId("thing");
    const upsert = (error: string | null, deliveredAt: string | null) =>
      env.DB.prepare(
        `INSERT INTO test_attempt_log (thing_id, channel, attempts, last_error, delivered_at) VALUES (?1, 'email', 1, ?2, ?3)
${attemptLogUpsert("test_attempt_log", ["thing_id", "channel"])}`,
      )
        .bind(thing, error, deliveredAt)
        .run();
    await upsert("timeout", null);
    await upsert(null, iso(T0));
    await upsert(null, iso(T0 + 1_000));
    const row = await env.DB.prepare("SELECT * FROM test_attempt_log WHERE thing_id = ?1").bind(thing).first();
    expect(row).toMatchObject({ attempts: 3, last_error: null, delivered_at: iso(T0) });
  });

  it("sweeps in chunks and stops at the first short take", async () => {
    const takes: number[] = [];
    const sizes = [3, 3, 1, 3];
    const enqueued = await sweepOutbox(
      async (limit) => {
        takes.push(limit);
        return Array.from({ length: sizes[takes.length - 1] ?? 0 }, (_, index) => index);
      },
      async (jobs) => jobs.length,
      { chunk: 3, maxChunks: 10 },
    );
    expect({ takes: takes.length, enqueued }).toEqual({ takes: 3, enqueued: 7 });
  });
});

describe("the outbox's backoff and lease", () => {
  it("keeps the queues' schedule: half to all of 10 s doubling, capped at 15 min", () => {
    expect([1, 2, 3, 8, 30].map((attempts) => retryDelaySeconds(attempts, () => 0))).toEqual([5, 10, 20, 450, 450]);
    expect([1, 2, 3, 8, 30].map((attempts) => retryDelaySeconds(attempts, () => 1))).toEqual([10, 20, 40, 900, 900]);
    expect(scheduleSpanSeconds(QUEUE_BACKOFF, 10)).toBe(5 + 10 + 20 + 40 + 80 + 160 + 320 + 450 + 450 + 450);
  });

  it("honours Retry-After (seconds or a date) when it asks for longer, never past Queues' longest delay", () => {
    const now = Date.parse("2026-01-15T15:00:00.000Z");
    expect(retryAfterSeconds("120", now)).toBe(120);
    expect(retryAfterSeconds("Thu, 15 Jan 2026 15:10:00 GMT", now)).toBe(600);
    expect(retryAfterSeconds("Thu, 15 Jan 2026 14:00:00 GMT", now)).toBe(0);
    expect(retryAfterSeconds("soon", now)).toBeNull();
    expect(retryAfterSeconds(null, now)).toBeNull();
    expect(nextTrySeconds(QUEUE_BACKOFF, 1, 600, () => 0)).toBe(600);
    expect(nextTrySeconds(QUEUE_BACKOFF, 8, 60, () => 0)).toBe(450);
    expect(nextTrySeconds(QUEUE_BACKOFF, 1, 10 * 86_400, () => 0)).toBe(QUEUES_MAX_DELAY_SECONDS);
  });

  it("a schedule sized for days spans them at its least", () => {
    const days = { baseSeconds: 60, capSeconds: QUEUES_MAX_DELAY_SECONDS, jitterFloor: 0.9 };
    expect(scheduleSpanSeconds(days, 16)).toBeGreaterThanOrEqual(3 * 86_400);
    expect(scheduleSpanSeconds(days, 15)).toBeLessThan(3 * 86_400);
  });

  it("a lease covers a call only when the call and the record of its answer end inside it", () => {
    const lease = newLease(T0, 60_000);
    expect(leaseCovers(lease, T0, 15_000, 5_000)).toBe(true);
    expect(leaseCovers(lease, T0 + 40_000, 15_000, 5_000)).toBe(true);
    expect(leaseCovers(lease, T0 + 40_001, 15_000, 5_000)).toBe(false);
  });
});
