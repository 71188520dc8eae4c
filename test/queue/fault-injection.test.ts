import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";

describe("fault injection (benchmark only)", () => {
  it("is off unless FAULT_INJECTION_RATE is set", async () => {
    const events = Array.from({ length: 20 }, () =>
      makeEvent("order:created", { data: { order_id: uniqueId("ord") } }),
    );
    const result = await runBatch(
      EVENTS_QUEUE,
      events.map((event) => eventMessage(event)),
    );
    expect(result.retryMessages).toEqual([]);
  });

  it("at rate 1 every delivery fails transiently, claims are released, and the retries apply each event once", async () => {
    const events = Array.from({ length: 10 }, () =>
      makeEvent("order:created", { data: { order_id: uniqueId("ord") } }),
    );
    const faulty = await runBatch(
      EVENTS_QUEUE,
      events.map((event) => eventMessage(event)),
      { ...env, FAULT_INJECTION_RATE: "1" } as Env,
    );
    expect(faulty.explicitAcks).toEqual([]);
    expect(faulty.retryMessages).toHaveLength(10);
    // Whether the claim failed before or after committing, no live lease is left behind.
    for (const event of events) {
      const row = await env.DB.prepare(`SELECT lease_owner FROM events WHERE event_id = ?1`)
        .bind(event.event_id)
        .first<{ lease_owner: string | null }>();
      expect(row?.lease_owner ?? null).toBeNull();
    }
    const healed = await runBatch(
      EVENTS_QUEUE,
      events.map((event) => eventMessage(event, 2)),
    );
    expect(healed.explicitAcks).toHaveLength(10);
    for (const event of events) expect((await eventRow(event.event_id)).applications).toBe(1);
  });
});
