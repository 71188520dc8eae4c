import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { InjectedFault, maybeFail, withInjectedFaults } from "../../src/faults";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";

afterEach(() => vi.restoreAllMocks());

describe("fault injection (benchmark only)", () => {
  it.each([undefined, "", "0"])(
    "is off when FAULT_INJECTION_RATE is %j: the bindings are untouched and nothing throws",
    (rate) => {
      const workerEnv = { ...env, FAULT_INJECTION_RATE: rate } as Env;
      expect(withInjectedFaults(workerEnv)).toBe(workerEnv);
      // Even the unluckiest roll cannot fail at rate 0; at any positive rate it does.
      vi.spyOn(Math, "random").mockReturnValue(0);
      expect(() => maybeFail(workerEnv, "handler")).not.toThrow();
      expect(() => maybeFail({ ...env, FAULT_INJECTION_RATE: "0.01" } as Env, "handler")).toThrow(InjectedFault);
    },
  );

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
