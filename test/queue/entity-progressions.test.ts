import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { getEntity } from "../../src/db/entities";
import { ALL_CLINICS } from "../../src/db/scope";
import type { EntityKind } from "../../src/event-types";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

/** A lifecycle: event types in the order NovaMed would send them, with the facts each carries. */
interface Lifecycle {
  kind: EntityKind;
  idField: string;
  steps: { type: string; data: Record<string, unknown> }[];
}

const LIFECYCLES: Record<string, Lifecycle> = {
  "order delivered": {
    kind: "order",
    idField: "order_id",
    steps: [
      {
        type: "order:created",
        data: {
          medication_request_id: "mr_1",
          shipping_address: { line1: "1 Example Ave", city: "Springfield", state: "IL", zip: "62701" },
        },
      },
      { type: "order:processing", data: {} },
      {
        type: "order:shipped",
        data: { carrier: "FedEx", tracking_number: "7712345678", estimated_delivery: "2025-01-20" },
      },
      { type: "order:delivered", data: {} },
    ],
  },
  "order cancelled": {
    kind: "order",
    idField: "order_id",
    steps: [
      { type: "order:created", data: {} },
      { type: "order:processing", data: {} },
      { type: "order:cancelled", data: { reason: "out of stock" } },
    ],
  },
  "medication request filled": {
    kind: "medication_request",
    idField: "medication_request_id",
    steps: [
      { type: "medication_request:created", data: { medication_name: "Metformin 500mg", practitioner_id: "prac_1" } },
      { type: "medication_request:approved", data: { quantity: 1, refills: 3 } },
      { type: "medication_request:filled", data: {} },
    ],
  },
  "medication request cancelled": {
    kind: "medication_request",
    idField: "medication_request_id",
    steps: [
      { type: "medication_request:created", data: {} },
      { type: "medication_request:approved", data: { quantity: 2, refills: 0 } },
      { type: "medication_request:cancelled", data: { reason: "patient request" } },
    ],
  },
  "refill approved": {
    kind: "refill",
    idField: "refill_id",
    steps: [
      { type: "refill:requested", data: { medication_request_id: "mr_2" } },
      { type: "refill:approved", data: {} },
    ],
  },
  // Lifecycles whose events carry different values for the same fact: the latest carrier wins.
  "medication request corrected": {
    kind: "medication_request",
    idField: "medication_request_id",
    steps: [
      { type: "medication_request:created", data: { quantity: 30, refills: 3, practitioner_id: "prac_1" } },
      { type: "medication_request:approved", data: { quantity: 60, refills: 5 } },
      { type: "medication_request:filled", data: {} },
    ],
  },
  "order re-addressed and re-issued": {
    kind: "order",
    idField: "order_id",
    steps: [
      { type: "order:created", data: { shipping_address: { line1: "1 Old Road", city: "Springfield", zip: "62701" } } },
      {
        type: "order:processing",
        data: { shipping_address: { line1: "2 New Street", city: "Springfield", zip: "62702" } },
      },
      { type: "order:shipped", data: { carrier: "UPS", tracking_number: "1Z0000000000000001" } },
      { type: "order:shipped", data: { carrier: "FedEx", tracking_number: "7700000000000002" } },
    ],
  },
  "refill re-linked": {
    kind: "refill",
    idField: "refill_id",
    steps: [
      { type: "refill:requested", data: { medication_request_id: "mr_old" } },
      { type: "refill:approved", data: { medication_request_id: "mr_new" } },
    ],
  },
  // Lifecycles whose later events leave out a fact an earlier one carried: the fact stays as carried.
  "order shipped twice, tracking only in the first": {
    kind: "order",
    idField: "order_id",
    steps: [
      { type: "order:created", data: { medication_request_id: "mr_3" } },
      {
        type: "order:shipped",
        data: { carrier: "UPS", tracking_number: "1Z0000000000000003", estimated_delivery: "2025-01-20" },
      },
      { type: "order:shipped", data: {} },
      { type: "order:delivered", data: {} },
    ],
  },
  "medication request approved again without a quantity": {
    kind: "medication_request",
    idField: "medication_request_id",
    steps: [
      { type: "medication_request:created", data: { medication_name: "Metformin 500mg", practitioner_id: "prac_1" } },
      { type: "medication_request:approved", data: { quantity: 60, refills: 2 } },
      { type: "medication_request:approved", data: {} },
    ],
  },
  "refill denied": {
    kind: "refill",
    idField: "refill_id",
    steps: [
      { type: "refill:requested", data: {} },
      { type: "refill:denied", data: { reason: "needs follow-up visit" } },
    ],
  },
};

/**
 * Applies a lifecycle's events: `batches` lists, per queue batch, the indices of the events it
 * delivers (repeats are re-deliveries). Returns the entity's resulting state.
 */
async function applyLifecycle(lifecycle: Lifecycle, batches: number[][]) {
  const entityId = uniqueId(lifecycle.kind);
  const base = Date.parse("2025-01-15T09:00:00.000Z");
  // Each event carries exactly the ids and the facts its step lists, not its type's default facts.
  const events = lifecycle.steps.map((step, index) => ({
    ...makeEvent(step.type, { timestamp: new Date(base + index * 3_600_000).toISOString() }),
    data: { patient_id: "pat_1", [lifecycle.idField]: entityId, ...step.data },
  }));
  for (const batch of batches)
    await runBatch(
      EVENTS_QUEUE,
      batch.map((index) => eventMessage(events[index]!)),
    );
  const row = await getEntity(env.DB, ALL_CLINICS, lifecycle.kind, entityId);
  const { [lifecycle.idField]: _id, updated_at: _updated, fact_times, status_event_id, ...state } = row!;
  // Event ids differ between runs; the step of the event that set the status, or a fact, does not.
  const step = (eventId: unknown) => events.findIndex((event) => event.event_id === eventId);
  const times = JSON.parse(String(fact_times)) as Record<string, string | null>;
  const factsSetBy = Object.fromEntries(
    Object.entries(times).map(([fact, key]) => [fact, key === null ? null : step(key.slice(key.indexOf(" ") + 1))]),
  );
  return { ...state, status_set_by: step(status_event_id), facts_set_by: factsSetBy };
}

/** One event per batch, in `order`. */
const applyInOrder = (lifecycle: Lifecycle, order: number[]) =>
  applyLifecycle(
    lifecycle,
    order.map((index) => [index]),
  );

function permutations(items: number[]): number[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, index) =>
    permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]),
  );
}

describe("entity progressions", () => {
  it.each(Object.entries(LIFECYCLES))(
    "%s: every permutation of its events ends in the in-order state",
    async (_name, lifecycle) => {
      const indices = lifecycle.steps.map((_, index) => index);
      const expected = await applyInOrder(lifecycle, indices);
      // Lifecycles are short (at most 4 events, 24 orders), so the property is checked exhaustively.
      const orders = permutations(indices);
      expect(orders).toHaveLength([1, 1, 2, 6, 24][indices.length]!);
      for (const order of orders)
        expect(await applyInOrder(lifecycle, order), `order ${order.join(",")}`).toEqual(expected);
    },
  );

  it.each([
    ["medication request corrected", { quantity: 60, refills: 5, practitioner_id: "prac_1", status: "filled" }],
    ["refill re-linked", { medication_request_id: "mr_new", status: "approved" }],
    ["order re-addressed and re-issued", { carrier: "FedEx", tracking_number: "7700000000000002", status: "shipped" }],
    [
      "order shipped twice, tracking only in the first",
      {
        medication_request_id: "mr_3",
        carrier: "UPS",
        tracking_number: "1Z0000000000000003",
        estimated_delivery: "2025-01-20",
        status: "delivered",
        // fact_times names the facts some event carried, each with the latest event that carried it.
        facts_set_by: {
          medication_request_id: 0,
          carrier: 1,
          tracking_number: 1,
          estimated_delivery: 1,
          shipped_at: 2,
          delivered_at: 3,
        },
      },
    ],
    [
      "medication request approved again without a quantity",
      {
        quantity: 60,
        refills: 2,
        status: "approved",
        status_set_by: 2,
        facts_set_by: { practitioner_id: 0, medication_name: 0, quantity: 1, refills: 1, approved_at: 2 },
      },
    ],
  ])("%s: each fact ends as carried by its latest event, in every arrival order", async (name, expected) => {
    const lifecycle = LIFECYCLES[name]!;
    const indices = lifecycle.steps.map((_, index) => index);
    for (const order of permutations(indices)) {
      const state = await applyInOrder(lifecycle, order);
      expect(state, `order ${order.join(",")}`).toMatchObject(expected);
      if ("facts_set_by" in expected)
        expect(state.facts_set_by, `order ${order.join(",")}`).toEqual(expected.facts_set_by);
      if (name === "order re-addressed and re-issued") {
        expect(
          JSON.parse(String((state as Record<string, unknown>).shipping_address)),
          `order ${order.join(",")}`,
        ).toMatchObject({
          line1: "2 New Street",
        });
      }
    }
  });

  it.each(["order delivered", "order shipped twice, tracking only in the first"])(
    "%s: in every order together with duplicates in one batch, still the in-order state",
    async (name) => {
      const lifecycle = LIFECYCLES[name]!;
      const expected = await applyInOrder(lifecycle, [0, 1, 2, 3]);
      await fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 10 }), async (extra) => {
          // All four events in an order drawn from `extra`, plus re-deliveries of `extra`, in one batch.
          expect(await applyLifecycle(lifecycle, [[...new Set([...extra, 0, 1, 2, 3]), ...extra]])).toEqual(expected);
        }),
        { numRuns: 15 },
      );
    },
  );

  it("a late order:shipped after order:delivered leaves it delivered and records the tracking number", async () => {
    const orderId = uniqueId("ord");
    const delivered = makeEvent("order:delivered", {
      timestamp: "2025-01-18T15:00:00Z",
      data: { order_id: orderId, tracking_number: null, carrier: null },
    });
    const shipped = makeEvent("order:shipped", { timestamp: "2025-01-15T10:30:00Z", data: { order_id: orderId } });
    await runBatch(EVENTS_QUEUE, [eventMessage(delivered)]);
    await runBatch(EVENTS_QUEUE, [eventMessage(shipped)]);
    const order = await getEntity(env.DB, ALL_CLINICS, "order", orderId);
    expect(order).toMatchObject({
      status: "delivered",
      tracking_number: "1Z999AA10123456784",
      carrier: "UPS",
      status_event_id: delivered.event_id,
    });
    expect(order!.last_event_at).toBe("2025-01-18T15:00:00.000Z");
  });

  it("timestamps with offsets compare in real time order", async () => {
    const orderId = uniqueId("ord");
    // 10:00+05:00 is 05:00Z, earlier than 06:00Z although the string sorts later.
    const processing = makeEvent("order:processing", {
      timestamp: "2025-01-15T06:00:00Z",
      data: { order_id: orderId },
    });
    const processingAgain = makeEvent("order:processing", {
      timestamp: "2025-01-15T10:00:00+05:00",
      data: { order_id: orderId, carrier: "USPS" },
    });
    await runBatch(EVENTS_QUEUE, [eventMessage(processing), eventMessage(processingAgain)]);
    const order = await getEntity(env.DB, ALL_CLINICS, "order", orderId);
    expect(order).toMatchObject({ status_event_id: processing.event_id, status_at: "2025-01-15T06:00:00.000Z" });
  });
});
