import { env } from "cloudflare:workers";
import { describe, expect, it, type MockInstance, vi } from "vitest";
import { getEntity } from "../../src/db/entities";
import { ALL_CLINICS } from "../../src/db/scope";
import { makeEvent, postWebhook, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventRow } from "../helpers/queue";
import { WAIT } from "../helpers/wait";

/** Sums the events consumer's per-batch counts from its structured log lines. */
function eventBatchTotals(logs: MockInstance<typeof console.log>) {
  const totals = { messages: 0, processed: 0, duplicates: 0 };
  for (const [line] of logs.mock.calls) {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(String(line));
    } catch {
      continue;
    }
    if (entry.message !== "event batch" || entry.queue !== EVENTS_QUEUE) continue;
    for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += Number(entry[key] ?? 0);
  }
  return totals;
}

describe("edge → queue → consumer → D1", () => {
  it("100 concurrent deliveries of one event: all answered 200, applied exactly once", async () => {
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord") } });
    const logs = vi.spyOn(console, "log");
    const responses = await Promise.all(Array.from({ length: 100 }, () => postWebhook(event)));
    expect(responses.map((response) => response.status)).toEqual(Array(100).fill(200));
    // Wait until the consumer has taken every one of the 100 deliveries (its batch log line counts
    // them), so a straggling copy applied late would show in `applications`.
    await vi.waitFor(() => expect(eventBatchTotals(logs).messages).toBeGreaterThanOrEqual(100), WAIT);
    const row = await eventRow(event.event_id);
    expect(row).toMatchObject({ status: "processed", applications: 1 });
    expect(await getEntity(env.DB, ALL_CLINICS, "order", String(event.data.order_id))).toMatchObject({
      status: "shipped",
    });
  });

  it("a lifecycle posted out of order ends in the right state", async () => {
    const orderId = uniqueId("ord");
    const at = (hour: number) => `2025-01-15T${String(hour).padStart(2, "0")}:00:00.000Z`;
    const lifecycle = [
      makeEvent("order:delivered", { timestamp: at(12), data: { order_id: orderId } }),
      makeEvent("order:created", { timestamp: at(9), data: { order_id: orderId } }),
      makeEvent("order:shipped", { timestamp: at(11), data: { order_id: orderId } }),
      makeEvent("order:processing", { timestamp: at(10), data: { order_id: orderId } }),
    ];
    for (const event of lifecycle) expect((await postWebhook(event)).status).toBe(200);
    const order = await vi.waitFor(async () => {
      const rows = await Promise.all(lifecycle.map((event) => eventRow(event.event_id).catch(() => undefined)));
      if (!rows.every((row) => row?.status === "processed")) throw new Error("not yet");
      return getEntity(env.DB, ALL_CLINICS, "order", orderId);
    }, WAIT);
    expect(order).toMatchObject({
      status: "delivered",
      first_event_at: at(9),
      last_event_at: at(12),
      tracking_number: "1Z999AA10123456784",
    });
  });
});
