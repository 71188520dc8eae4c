import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { takeStuckEvents } from "../../src/db/event-requeue";
import { enqueueSendJobs } from "../../src/notify/outbox";
import { enqueueAll, QUEUE_LIMITS } from "../../src/queue/enqueue";
import { STUCK_AFTER_MS, SWEEP_MAX_CHUNKS, sweepStuckEvents } from "../../src/scheduled/event-sweep";
import { adminJson } from "../helpers/admin";
import { TEST_NOW } from "../helpers/clock";
import { consoleFetch, signIn } from "../helpers/console";
import { makeEvent, uniqueId } from "../helpers/events";
import { countingDatabase, limitedQueue, padding } from "../helpers/queue";

/** The two shapes the review proved fail when chunks are cut by count alone. */
const SIZES = [
  { events: 100, bytes: 3_500 },
  { events: 5, bytes: 60_000 },
];

let events: ReturnType<typeof limitedQueue>;

beforeEach(async () => {
  // Storage is shared by this file's tests, and every test here counts what it finds stuck or dead.
  await env.DB.exec("DELETE FROM events");
  events = limitedQueue();
  vi.spyOn(env.EVENTS, "sendBatch").mockImplementation((messages) => events.queue.sendBatch(messages));
});

type StoredStatus =
  | { status: "dead" }
  | { status: "processing"; leaseExpiresAt: number }
  | { status: "queued"; queuedAt: string };

/** Stores `count` events of about `bytes` each, in `state`, received in order from `receivedFrom`. */
async function storeEvents(
  count: number,
  bytes: number,
  state: StoredStatus,
  receivedFrom = TEST_NOW,
): Promise<string[]> {
  const ids: string[] = [];
  const statements = Array.from({ length: count }, (_, index) => {
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), note: padding(bytes) } });
    ids.push(event.event_id);
    const receivedAt = new Date(receivedFrom + index).toISOString();
    return env.DB.prepare(
      `INSERT INTO events (event_id, event_type, clinic_id, status, attempts, occurred_at, received_at, payload,
  payload_hash, lease_owner, lease_expires_at, queued_at)
VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5, ?6, 'hash', ?7, ?8, ?9)`,
    ).bind(
      event.event_id,
      event.event_type,
      event.clinic_id,
      state.status,
      receivedAt,
      JSON.stringify(event),
      state.status === "processing" ? "a-consumer-that-died" : null,
      state.status === "processing" ? state.leaseExpiresAt : null,
      state.status === "queued" ? state.queuedAt : null,
    );
  });
  await env.DB.batch(statements);
  return ids;
}

const sentIds = () =>
  events.sent.map((message) => (message.body as { envelope: { event_id: string } }).envelope.event_id);

async function statuses(ids: readonly string[]): Promise<string[]> {
  const { results } = await env.DB.prepare(
    "SELECT status FROM events WHERE event_id IN (SELECT value FROM json_each(?1))",
  )
    .bind(JSON.stringify(ids))
    .all<{ status: string }>();
  return [...new Set(results.map((row) => row.status))];
}

describe("every queue send respects Queues' count and byte limits", () => {
  it.each(SIZES)("bulk replay re-drives $events events of $bytes bytes", async ({ events: count, bytes }) => {
    const ids = await storeEvents(count, bytes, { status: "dead" });
    const response = await adminJson("/events/replay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ status: "dead", limit: 1000 }),
    });
    expect(response).toEqual({ status: 202, body: { replayed: count } });
    expect(sentIds().sort()).toEqual([...ids].sort());
    expect(events.calls.length).toBeGreaterThan(1);
    expect(await statuses(ids)).toEqual(["queued"]);
  });

  it.each(SIZES)(
    "the console's Replay all matching re-drives $events events of $bytes bytes",
    async ({ events: count, bytes }) => {
      const ids = await storeEvents(count, bytes, { status: "dead" });
      const { cookie, csrf } = await signIn();
      const response = await consoleFetch("/console/events/replay", {
        cookie,
        form: { _csrf: csrf, scope: "matching", status: "dead" },
      });
      expect(response.headers.get("location")).toContain(`replayed=${count}`);
      expect(sentIds().sort()).toEqual([...ids].sort());
      expect(await statuses(ids)).toEqual(["queued"]);
    },
  );

  it.each(SIZES)("the stuck-event sweep re-sends $events events of $bytes bytes", async ({ events: count, bytes }) => {
    const ids = await storeEvents(count, bytes, { status: "processing", leaseExpiresAt: TEST_NOW });
    const sent = await sweepStuckEvents(env, new Date(TEST_NOW + 2 * STUCK_AFTER_MS));
    expect(sent).toBe(count);
    expect(sentIds().sort()).toEqual([...ids].sort());
    expect(events.calls.length).toBeGreaterThan(1);
  });

  it("sends notification jobs in chunks of at most 100", async () => {
    const notifications = limitedQueue();
    vi.spyOn(env.NOTIFICATIONS, "sendBatch").mockImplementation((messages) => notifications.queue.sendBatch(messages));
    const jobs = Array.from({ length: 250 }, () => ({ event_id: uniqueId("evt"), channel: "sms" as const }));
    expect(await enqueueSendJobs(env, jobs)).toBe(250);
    expect(notifications.calls.map((call) => call.messages)).toEqual([100, 100, 50]);
  });

  it("never sends a message over the per-message limit, and sends the others", async () => {
    const items = [padding(100), padding(QUEUE_LIMITS.bytesPerMessage), padding(100), padding(100_000)];
    const result = await enqueueAll(events.queue, items, (body) => ({ body }));
    expect(result.failed).toEqual([items[1]]);
    expect(result.sent).toEqual([items[0], items[2], items[3]]);
    expect(result.errors).toEqual([{ messages: 1, bytes: QUEUE_LIMITS.bytesPerMessage + 2, error: "MessageTooLarge" }]);
  });
});

describe("the stuck-event sweep makes progress when a send fails", () => {
  it("retries a failed row by age, after the events that waited longer", async () => {
    // Received first, stuck first, then its re-send fails: it is queued again as of that sweep.
    const [failedFirst = ""] = await storeEvents(1, 100, { status: "processing", leaseExpiresAt: TEST_NOW }, TEST_NOW);
    const firstSweep = TEST_NOW + STUCK_AFTER_MS + 60_000;
    events.failNext(1);
    expect(await sweepStuckEvents(env, new Date(firstSweep))).toBe(0);
    expect(await statuses([failedFirst])).toEqual(["queued"]);

    // Newer events received later but stuck since before that failed sweep.
    const waiting = await storeEvents(
      3,
      100,
      { status: "queued", queuedAt: new Date(firstSweep - 1).toISOString() },
      TEST_NOW + 1000,
    );
    const taken = await takeStuckEvents(
      env.DB,
      new Date(firstSweep + STUCK_AFTER_MS + 60_000).toISOString(),
      0,
      new Date(firstSweep + STUCK_AFTER_MS + 60_000).toISOString(),
      3,
    );
    expect(taken.map((row) => row.event_id).sort()).toEqual([...waiting].sort());
  });

  it("goes on past a chunk that fails and stops when a take sends nothing, within a bounded number of takes", async () => {
    // 3.5 KB events: each take of 100 goes out in several sends, and the first send fails.
    const ids = await storeEvents(250, 3_500, { status: "processing", leaseExpiresAt: TEST_NOW });
    const sweepAt = new Date(TEST_NOW + 2 * STUCK_AFTER_MS);
    events.failNext(1);
    const sent = await sweepStuckEvents(env, sweepAt);
    expect(sent).toBeGreaterThan(150);
    expect(sent).toBeLessThan(250);
    expect(sentIds()).toHaveLength(sent);
    // Every event was taken in this run: the sent ones, and the failed ones queued for a later run.
    expect(await statuses(ids)).toEqual(["queued"]);

    // The queue down altogether: one take, nothing sent, and the run ends.
    vi.mocked(env.EVENTS.sendBatch).mockRejectedValue(new Error("Queue send failed"));
    const counting = countingDatabase(env.DB);
    const later = new Date(sweepAt.getTime() + 2 * STUCK_AFTER_MS);
    expect(await sweepStuckEvents({ ...env, DB: counting.db }, later)).toBe(0);
    expect(counting.roundTrips()).toBe(1);
    expect(SWEEP_MAX_CHUNKS).toBeLessThanOrEqual(10);
  });
});
