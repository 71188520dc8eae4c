import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { CRONS } from "../../src/scheduled/dispatch";
import { QUIET_ENTITY_GRACE_DAYS, STUCK_EVENT_GRACE_DAYS } from "../../src/scheduled/retention";
import { makeEvent, uniqueId } from "../helpers/events";
import { CANARY, leakedCanaries } from "../helpers/phi-canary";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";

const DAY = 86_400_000;
const now = Date.parse("2027-03-01T03:17:00.000Z");
const daysAgo = (days: number) => new Date(now - days * DAY).toISOString();

async function runRetention(at = now) {
  const controller = createScheduledController({ scheduledTime: new Date(at), cron: CRONS.retention });
  await worker.scheduled(controller, env);
}

async function apply(...events: ReturnType<typeof makeEvent>[]) {
  await runBatch(
    EVENTS_QUEUE,
    events.map((event) => eventMessage(event)),
  );
}

async function entity(table: string, idColumn: string, id: string) {
  return env.DB.prepare(`SELECT * FROM ${table} WHERE ${idColumn} = ?1`).bind(id).first<Record<string, unknown>>();
}

const address = { line1: CANARY.address, city: CANARY.city, state: "CA", zip: "94102" };

describe("entity retention", () => {
  it("clears a final order's PHI facts after PAYLOAD_RETENTION_DAYS, keeping ids, statuses and times", async () => {
    const orderId = uniqueId("ord");
    const patientId = uniqueId("pat");
    await apply(
      makeEvent("order:shipped", {
        timestamp: daysAgo(40),
        data: {
          order_id: orderId,
          patient_id: patientId,
          carrier: "UPS",
          tracking_number: "1Z999AA10123456784",
          shipping_address: address,
        },
      }),
      makeEvent("order:delivered", { timestamp: daysAgo(31), data: { order_id: orderId, patient_id: patientId } }),
    );
    expect(await entity("orders", "order_id", orderId)).toMatchObject({
      carrier: "UPS",
      tracking_number: "1Z999AA10123456784",
    });
    await runRetention();
    const row = await entity("orders", "order_id", orderId);
    expect(row).toMatchObject({
      order_id: orderId,
      patient_id: patientId,
      status: "delivered",
      carrier: null,
      tracking_number: null,
      shipping_address: null,
      cancellation_reason: null,
      shipped_at: daysAgo(40),
      delivered_at: daysAgo(31),
      last_event_at: daysAgo(31),
      facts_purged_at: new Date(now).toISOString(),
    });
    expect(leakedCanaries(JSON.stringify(row))).toEqual([]);
  });

  it("keeps the facts of an entity still in progress, and of a final one inside the period", async () => {
    const open = uniqueId("ord");
    const recent = uniqueId("ord");
    await apply(
      makeEvent("order:shipped", {
        timestamp: daysAgo(60),
        data: { order_id: open, carrier: "UPS", shipping_address: address },
      }),
      makeEvent("order:cancelled", {
        timestamp: daysAgo(29),
        data: { order_id: recent, cancellation_reason: "patient request" },
      }),
    );
    await runRetention();
    expect(await entity("orders", "order_id", open)).toMatchObject({ carrier: "UPS", facts_purged_at: null });
    expect(await entity("orders", "order_id", recent)).toMatchObject({ cancellation_reason: "patient request" });
  });

  it("clears medication names, quantities and reasons of final medication requests and refills", async () => {
    const requestId = uniqueId("mr");
    const refillId = uniqueId("ref");
    await apply(
      makeEvent("medication_request:approved", {
        timestamp: daysAgo(50),
        data: { medication_request_id: requestId, medication_name: CANARY.medication, quantity: 30 },
      }),
      makeEvent("medication_request:filled", { timestamp: daysAgo(45), data: { medication_request_id: requestId } }),
      makeEvent("refill:denied", { timestamp: daysAgo(35), data: { refill_id: refillId } }),
    );
    await runRetention();
    expect(await entity("medication_requests", "medication_request_id", requestId)).toMatchObject({
      status: "filled",
      medication_name: null,
      quantity: null,
      refills: expect.any(Number),
    });
    expect(await entity("refills", "refill_id", refillId)).toMatchObject({ status: "denied", denial_reason: null });
  });

  it("clears the PHI facts of entities that never finish once quiet for the period plus the grace (+3 years)", async () => {
    const shipped = uniqueId("ord");
    const approved = uniqueId("mr");
    const requested = uniqueId("ref");
    const lively = uniqueId("ord");
    const threeYears = 3 * 365 * DAY;
    const start = now - threeYears;
    const at = (offset: number) => new Date(start + offset).toISOString();
    await apply(
      makeEvent("order:shipped", {
        timestamp: at(0),
        data: { order_id: shipped, carrier: "UPS", tracking_number: "1Z999AA10123456784", shipping_address: address },
      }),
      makeEvent("medication_request:approved", {
        timestamp: at(0),
        data: { medication_request_id: approved, medication_name: CANARY.medication, quantity: 30 },
      }),
      makeEvent("refill:requested", { timestamp: at(0), data: { refill_id: requested } }),
      // Shipped too, but its last event is inside the period plus the grace: it keeps its facts.
      makeEvent("order:shipped", {
        timestamp: at(threeYears - (30 + QUIET_ENTITY_GRACE_DAYS - 1) * DAY),
        data: { order_id: lively, carrier: "USPS", shipping_address: address },
      }),
    );
    // Inside the grace the open entities keep their facts (the final-only rule alone).
    await runRetention(start + 60 * DAY);
    expect(await entity("orders", "order_id", shipped)).toMatchObject({ carrier: "UPS", facts_purged_at: null });

    await runRetention(now);
    const order = await entity("orders", "order_id", shipped);
    expect(order).toMatchObject({
      order_id: shipped,
      status: "shipped",
      carrier: null,
      tracking_number: null,
      shipping_address: null,
      shipped_at: at(0),
      facts_purged_at: new Date(now).toISOString(),
    });
    const request = await entity("medication_requests", "medication_request_id", approved);
    expect(request).toMatchObject({ status: "approved", medication_name: null, quantity: null });
    expect(await entity("refills", "refill_id", requested)).toMatchObject({
      status: "requested",
      facts_purged_at: new Date(now).toISOString(),
    });
    expect(leakedCanaries(JSON.stringify([order, request]))).toEqual([]);
    expect(await entity("orders", "order_id", lively)).toMatchObject({ carrier: "USPS", facts_purged_at: null });
  });

  it("clears an entity whose last event is recent but whose status is old once that last event is quiet", async () => {
    const late = uniqueId("ord");
    const after = uniqueId("ord");
    await apply(
      makeEvent("order:delivered", { timestamp: daysAgo(40), data: { order_id: late, carrier: "UPS" } }),
      // A stale event, later than the delivery: it leaves the status (and status_at) and makes the order
      // quiet only 20 days ago.
      makeEvent("order:shipped", { timestamp: daysAgo(20), data: { order_id: late, carrier: "FedEx" } }),
      makeEvent("order:delivered", { timestamp: daysAgo(35), data: { order_id: after, carrier: "UPS" } }),
    );
    await runRetention();
    // The walk by status time meets the late order first and passes it, but its mark stays there.
    expect(await entity("orders", "order_id", late)).toMatchObject({ carrier: "FedEx", facts_purged_at: null });
    expect(await entity("orders", "order_id", after)).toMatchObject({ carrier: null });
    await runRetention(now + 9 * DAY);
    expect(await entity("orders", "order_id", late)).toMatchObject({ carrier: "FedEx", facts_purged_at: null });
    await runRetention(now + 11 * DAY);
    expect(await entity("orders", "order_id", late)).toMatchObject({
      status: "delivered",
      status_at: daysAgo(40),
      carrier: null,
      facts_purged_at: new Date(now + 11 * DAY).toISOString(),
    });
  });

  it("clears an entity first seen, or finished, with a status older than a run already passed", async () => {
    await runRetention();
    const old = uniqueId("ord");
    const finishedLate = uniqueId("ord");
    await apply(
      makeEvent("order:delivered", { timestamp: daysAgo(45), data: { order_id: old, carrier: "UPS" } }),
      makeEvent("order:shipped", { timestamp: daysAgo(100), data: { order_id: finishedLate, carrier: "UPS" } }),
    );
    await runRetention();
    expect(await entity("orders", "order_id", old)).toMatchObject({ carrier: null });
    // Shipped 100 days ago it waits for the longer window; its delivery, 90 days ago, arrives now.
    expect(await entity("orders", "order_id", finishedLate)).toMatchObject({ carrier: "UPS" });
    await apply(makeEvent("order:delivered", { timestamp: daysAgo(90), data: { order_id: finishedLate } }));
    await runRetention();
    expect(await entity("orders", "order_id", finishedLate)).toMatchObject({ status: "delivered", carrier: null });
  });

  it("clears again the PHI facts a late event brings to an entity whose facts were already cleared", async () => {
    const orderId = uniqueId("ord");
    const patientId = uniqueId("pat");
    await apply(
      makeEvent("order:shipped", {
        timestamp: daysAgo(40),
        data: { order_id: orderId, patient_id: patientId, carrier: "UPS", shipping_address: address },
      }),
      makeEvent("order:delivered", { timestamp: daysAgo(31), data: { order_id: orderId, patient_id: patientId } }),
    );
    await runRetention();
    expect(await entity("orders", "order_id", orderId)).toMatchObject({ shipping_address: null });
    // An old event of the order (a NovaMed redelivery, a replay) arrives after the purge with a
    // tracking number and the address: the facts are PHI again, and the next run clears them.
    await apply(
      makeEvent("order:shipped", {
        timestamp: daysAgo(39),
        data: {
          order_id: orderId,
          patient_id: patientId,
          tracking_number: "1Z999AA10123456784",
          shipping_address: address,
        },
      }),
    );
    expect(await entity("orders", "order_id", orderId)).toMatchObject({
      tracking_number: "1Z999AA10123456784",
      facts_purged_at: null,
    });
    await runRetention(now + DAY);
    const row = await entity("orders", "order_id", orderId);
    expect(row).toMatchObject({ status: "delivered", tracking_number: null, shipping_address: null });
    expect(leakedCanaries(JSON.stringify(row))).toEqual([]);
  });

  it("removes the payload of an event stuck in flight once the queue's message life is over too", async () => {
    const stuck = makeEvent("order:created");
    const grace = makeEvent("order:created");
    await apply(stuck, grace);
    for (const [event, days] of [
      [stuck, 30 + STUCK_EVENT_GRACE_DAYS + 1],
      [grace, 31],
    ] as const) {
      await env.DB.prepare(`UPDATE events SET status = 'failed', received_at = ?2 WHERE event_id = ?1`)
        .bind(event.event_id, daysAgo(days))
        .run();
    }
    await runRetention();
    expect(await eventRow(stuck.event_id)).toMatchObject({ status: "failed", payload: null });
    expect((await eventRow(grace.event_id))?.payload).not.toBeNull();
  });
});

describe("what an order stores of its address", () => {
  it("only the fields the clinic uses, never unknown keys such as a recipient's name", async () => {
    const orderId = uniqueId("ord");
    await apply(
      makeEvent("order:shipped", {
        data: {
          order_id: orderId,
          shipping_address: { ...address, line2: "Apt 4", recipient: CANARY.name, phone: CANARY.phone },
        },
      }),
    );
    const row = await entity("orders", "order_id", orderId);
    expect(JSON.parse(String(row?.shipping_address))).toEqual({ ...address, line2: "Apt 4" });
  });
});
