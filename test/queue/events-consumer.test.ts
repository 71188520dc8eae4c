import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { getEntity } from "../../src/db/entities";
import { ALL_CLINICS } from "../../src/db/scope";
import type { ChangeListener } from "../../src/events/handlers";
import { readEventMessage } from "../../src/queue/event-message";
import { consumeEvents } from "../../src/queue/events-consumer";
import { TEST_NOW } from "../helpers/clock";
import { makeEvent, uniqueId } from "../helpers/events";
import {
  countingDatabase,
  EVENTS_QUEUE,
  eventMessage,
  eventRow,
  LEGACY_LEASE_MS,
  runBatch,
  withBatchHook,
} from "../helpers/queue";

function shipped(overrides: Parameters<typeof makeEvent>[1] = {}) {
  return makeEvent("order:shipped", { ...overrides, data: { order_id: uniqueId("ord"), ...overrides.data } });
}

describe("events consumer: applying", () => {
  it("applies the guide's order:shipped event: event processed, order shipped with its facts", async () => {
    const event = shipped();
    const result = await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(1);
    const row = await eventRow(event.event_id);
    expect(row).toMatchObject({ status: "processed", attempts: 1, applications: 1, event_type: "order:shipped" });
    expect(row.processed_at).not.toBeNull();
    const order = await getEntity(env.DB, ALL_CLINICS, "order", String(event.data.order_id));
    expect(order).toMatchObject({
      status: "shipped",
      patient_id: "pat_67890",
      carrier: "UPS",
      tracking_number: "1Z999AA10123456784",
      estimated_delivery: "2025-01-18",
      medication_request_id: "med_req_11111",
    });
    expect(JSON.parse(String(order!.shipping_address))).toEqual({
      line1: "123 Main Street",
      city: "San Francisco",
      state: "CA",
      zip: "94102",
    });
  });

  it("records an unknown type as ignored and bad data as invalid with paths, never values; both acked", async () => {
    const unknown = makeEvent("invoice:paid");
    const invalid = makeEvent("refill:approved", { data: { refill_id: 42, patient_id: "" } });
    const result = await runBatch(EVENTS_QUEUE, [eventMessage(unknown), eventMessage(invalid)]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(2);
    expect((await eventRow(unknown.event_id)).status).toBe("ignored");
    const row = await eventRow(invalid.event_id);
    expect(row.status).toBe("invalid");
    const issues = JSON.parse(row.issues!) as { path: string; message: string }[];
    expect(issues.map((issue) => issue.path).sort()).toEqual(["data.patient_id", "data.refill_id"]);
    expect(row.issues).not.toContain("42");
  });

  it("acks and logs a message that is not an event message at all", async () => {
    const result = await runBatch(EVENTS_QUEUE, [{ id: "m1", timestamp: new Date(), attempts: 1, body: "garbage" }]);
    expect(result.explicitAcks).toEqual(["m1"]);
  });
});

describe("events consumer: exactly once", () => {
  it("applies a duplicate within one batch once and acks every copy", async () => {
    const event = shipped();
    const result = await runBatch(EVENTS_QUEUE, [eventMessage(event), eventMessage(event), eventMessage(event)]);
    expect(result.explicitAcks).toHaveLength(3);
    expect(result.retryMessages).toEqual([]);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", attempts: 1, applications: 1 });
  });

  it("applies a redelivery in a later batch zero times", async () => {
    const event = shipped();
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    const again = await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    expect(again.explicitAcks).toHaveLength(1);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });
  });

  it("keeps the first of two events with one id and different content, counting the conflict", async () => {
    const first = shipped();
    const second = { ...first, data: { ...first.data, tracking_number: "OTHER" } };
    await runBatch(EVENTS_QUEUE, [eventMessage(first)]);
    const result = await runBatch(EVENTS_QUEUE, [eventMessage(second)]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await eventRow(first.event_id)).toMatchObject({ status: "processed", applications: 1, conflicts: 1 });
    const order = await getEntity(env.DB, ALL_CLINICS, "order", String(first.data.order_id));
    expect(order!.tracking_number).toBe("1Z999AA10123456784");
  });
});

describe("events consumer: leases", () => {
  async function holdLease(eventId: string, expiresAt: number) {
    await env.DB.prepare(
      `UPDATE events SET status = 'processing', lease_owner = 'dead-consumer', lease_expires_at = ?2 WHERE event_id = ?1`,
    )
      .bind(eventId, expiresAt)
      .run();
  }

  it("does not take over a live lease: the message is retried after the lease", async () => {
    const event = shipped();
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    // Another consumer claimed a redelivery and is still working on it.
    await env.DB.prepare(`UPDATE events SET status = 'failed' WHERE event_id = ?1`).bind(event.event_id).run();
    await holdLease(event.event_id, TEST_NOW + LEGACY_LEASE_MS / 2);
    const result = await runBatch(EVENTS_QUEUE, [eventMessage(event, 2)]);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
    expect(result.retryMessages[0]!.delaySeconds).toBeGreaterThanOrEqual(LEGACY_LEASE_MS / 2 / 1000);
    expect((await eventRow(event.event_id)).applications).toBe(1);
  });

  it("takes over an expired lease and applies the event", async () => {
    const event = shipped();
    const message = eventMessage(event);
    // First delivery claimed it and died before committing: the row is processing under a dead lease.
    const failing: ChangeListener = {
      statements: () => {
        throw new Error("consumer crashed");
      },
    };
    await runBatch(EVENTS_QUEUE, [message], env, (batch, batchEnv) =>
      consumeEvents(batch, batchEnv, { listeners: [failing] }),
    );
    await holdLease(event.event_id, TEST_NOW - 1);
    const result = await runBatch(EVENTS_QUEUE, [eventMessage(event, 2)]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });
  });

  it("an attempt whose record does not take the event commits none of its effects", async () => {
    const event = shipped();
    const stored = await readEventMessage(eventMessage(event).body);
    // Another consumer records the event (processed, under its own token) just before our batch runs.
    const db = withBatchHook(env.DB, async () => {
      await env.DB.prepare(
        `INSERT INTO events (event_id, event_type, clinic_id, status, occurred_at, received_at, payload_hash, lease_owner, applications)
VALUES (?1, 'order:shipped', ?2, 'processed', ?3, ?3, ?4, 'other', 1)`,
      )
        .bind(event.event_id, event.clinic_id, event.timestamp, stored?.payloadHash)
        .run();
    });
    const result = await runBatch(EVENTS_QUEUE, [eventMessage(event)], { ...env, DB: db });
    expect(result.explicitAcks).toHaveLength(1);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });
    expect(await getEntity(env.DB, ALL_CLINICS, "order", String(event.data.order_id))).toBeNull();
  });
});

describe("events consumer: failures", () => {
  it("retries only the failing message of ten, with a delay that grows with attempts", async () => {
    const events = Array.from({ length: 10 }, () => shipped());
    const poisoned = events[4]!.event_id;
    const failing: ChangeListener = {
      statements: (change) => {
        if (change.write.eventId === poisoned) throw new Error("handler bug");
        return [];
      },
    };
    const delays: number[] = [];
    for (const attempts of [1, 3, 6]) {
      const messages = events.map((event) => eventMessage(event, attempts));
      const result = await runBatch(EVENTS_QUEUE, messages, env, (batch, batchEnv) =>
        consumeEvents(batch, batchEnv, { listeners: [failing] }),
      );
      expect(result.retryMessages.map((retry) => retry.msgId)).toEqual([messages[4]!.id]);
      expect(result.explicitAcks).toHaveLength(9);
      delays.push(result.retryMessages[0]!.delaySeconds!);
    }
    expect(delays[1]).toBeGreaterThan(delays[0]!);
    expect(delays[2]).toBeGreaterThan(delays[1]!);
    const row = await eventRow(poisoned);
    expect(row).toMatchObject({ status: "failed", applications: 0 });
    expect(row.last_error).toContain("handler error");
    for (const event of events.filter((event) => event.event_id !== poisoned)) {
      expect((await eventRow(event.event_id)).applications).toBe(1);
    }
  });

  it("retries every message when D1 cannot commit, acking none", async () => {
    const broken = withBatchHook(env.DB, () => {
      throw new Error("D1_ERROR: database is busy");
    });
    const messages = [eventMessage(shipped()), eventMessage(shipped())];
    const result = await runBatch(EVENTS_QUEUE, messages, { ...env, DB: broken });
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(2);
  });

  it("commits events one by one when the batch commit fails, retrying only what still fails", async () => {
    const events = [shipped(), shipped(), shipped()];
    // 1: whole commit (fails) · 2, 3: one event each (the second fails) · 4: its failure record · 5
    const flaky = withBatchHook(env.DB, (batch) => {
      if (batch === 1 || batch === 3) throw new Error("D1_ERROR: network connection lost");
    });
    const messages = events.map((event) => eventMessage(event));
    const result = await runBatch(EVENTS_QUEUE, messages, { ...env, DB: flaky });
    expect(result.retryMessages.map((retry) => retry.msgId)).toEqual([messages[1]!.id]);
    expect(result.explicitAcks.sort()).toEqual([messages[0]!.id, messages[2]!.id].sort());
    expect((await eventRow(events[1]!.event_id)).status).toBe("failed");
    const again = await runBatch(EVENTS_QUEUE, [eventMessage(events[1]!, 2)]);
    expect(again.explicitAcks).toHaveLength(1);
    expect(await eventRow(events[1]!.event_id)).toMatchObject({ status: "processed", applications: 1 });
  });
});

describe("events consumer: lost D1 answers", () => {
  it("a commit whose answer was lost: the one-by-one repeat finds the events done and acks them", async () => {
    const events = [shipped(), shipped()];
    const db = withBatchHook(env.DB, (batch) => (batch === 1 ? "lose-answer" : undefined));
    const result = await runBatch(
      EVENTS_QUEUE,
      events.map((event) => eventMessage(event)),
      { ...env, DB: db },
    );
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(2);
    for (const event of events)
      expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });
  });

  it("still enqueues send jobs when the combined commit's answer was lost", async () => {
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: uniqueId("pat") } });
    const sendBatch = vi.spyOn(env.NOTIFICATIONS, "sendBatch").mockResolvedValue(undefined as never);
    // 1: combined commit, committed but answer lost · 2: per-event repeat finds it done
    const db = withBatchHook(env.DB, (batch) => (batch === 1 ? "lose-answer" : undefined));
    const result = await runBatch(EVENTS_QUEUE, [eventMessage(event)], { ...env, DB: db });
    expect(result.explicitAcks).toHaveLength(1);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });
    const jobs = sendBatch.mock.calls.flatMap(([messages]) => [...messages].map((message) => message.body));
    expect(jobs).toEqual([
      { event_id: event.event_id, channel: "sms" },
      { event_id: event.event_id, channel: "email" },
    ]);
  });

  it("still enqueues send jobs when the lost commit is followed by a failing per-event retry", async () => {
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: uniqueId("pat") } });
    const sendBatch = vi.spyOn(env.NOTIFICATIONS, "sendBatch").mockResolvedValue(undefined as never);
    // 1: combined commit, landed but answer lost · 2: the per-event repeat fails too
    const db = withBatchHook(env.DB, (batch) => {
      if (batch === 1) return "lose-answer";
      if (batch === 2) throw new Error("D1_ERROR: network connection lost");
      return undefined;
    });
    const result = await runBatch(EVENTS_QUEUE, [eventMessage(event)], { ...env, DB: db });
    expect(result.retryMessages).toHaveLength(1);
    const jobs = sendBatch.mock.calls.flatMap(([messages]) => [...messages].map((message) => message.body));
    expect(jobs).toHaveLength(2);
    // The redelivery finds the event processed and acks it without applying it again.
    const again = await runBatch(EVENTS_QUEUE, [eventMessage(event, 2)]);
    expect(again.explicitAcks).toHaveLength(1);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });
  });

  it("makes no D1 round trip for a batch with nothing readable", async () => {
    const counting = countingDatabase(env.DB);
    await runBatch(EVENTS_QUEUE, [{ id: "poison", timestamp: new Date(), attempts: 1, body: 42 }], {
      ...env,
      DB: counting.db,
    });
    expect(counting.roundTrips()).toBe(0);
  });
});

describe("events consumer: D1 round trips", () => {
  it("uses the same number of round trips for a batch of 1 and a batch of 100", async () => {
    const trips: number[] = [];
    for (const size of [1, 100]) {
      const counting = countingDatabase(env.DB);
      const messages = Array.from({ length: size }, (_, index) =>
        eventMessage(
          makeEvent(["order:shipped", "medication_request:approved", "refill:denied", "invoice:paid"][index % 4]!, {
            data: { order_id: uniqueId("ord"), medication_request_id: uniqueId("mr"), refill_id: uniqueId("rf") },
          }),
        ),
      );
      const result = await runBatch(EVENTS_QUEUE, messages, { ...env, DB: counting.db });
      expect(result.explicitAcks).toHaveLength(size);
      trips.push(counting.roundTrips());
    }
    expect(trips[0]).toBe(trips[1]);
    // The entities' clinics read, then the one commit.
    expect(trips[1]).toBe(2);
  });
});
