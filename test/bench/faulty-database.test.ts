import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { instrumentedDatabase } from "../../bench/worker/faults";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";

/** The bench's D1 wrapper (bench/worker/faults.ts) around the Worker's real consumer. */
const orders = (count: number) =>
  Array.from({ length: count }, () => makeEvent("order:created", { data: { order_id: uniqueId("ord") } }));

describe("the bench's D1 wrapper (benchmark only)", () => {
  it("counts the consumer's round trips and changes nothing without a fault plan", async () => {
    const counter = { roundTrips: 0 };
    const events = orders(10);
    const result = await runBatch(
      EVENTS_QUEUE,
      events.map((event) => eventMessage(event)),
      { ...env, DB: instrumentedDatabase(env.DB, counter, null) },
    );
    expect(result.explicitAcks).toHaveLength(10);
    // The design's bound: round trips per batch stay constant (the entities' clinics, the commit).
    expect(counter.roundTrips).toBe(2);
    for (const event of events) expect((await eventRow(event.event_id)).applications).toBe(1);
  });

  it.each([
    ["before and after commit (rate 1)", { rate: 1, down: false }],
    ["while D1 is down", { rate: 0, down: true }],
  ])("fails every delivery transiently %s; the retries apply each event once", async (_, plan) => {
    const events = orders(10);
    // Rolls alternate below and above 1/2, so batches fail both before and after committing.
    let roll = 0;
    const faulty = instrumentedDatabase(env.DB, { roundTrips: 0 }, { ...plan, random: () => (roll++ % 2) * 0.6 });
    const failed = await runBatch(
      EVENTS_QUEUE,
      events.map((event) => eventMessage(event)),
      { ...env, DB: faulty },
    );
    expect(failed.explicitAcks).toEqual([]);
    expect(failed.retryMessages).toHaveLength(10);
    // No lease to wait for: a commit whose answer was lost left the events finished, not held.
    const healed = await runBatch(
      EVENTS_QUEUE,
      events.map((event) => eventMessage(event, 2)),
    );
    expect(healed.explicitAcks).toHaveLength(10);
    for (const event of events) expect((await eventRow(event.event_id)).applications).toBe(1);
  });
});
