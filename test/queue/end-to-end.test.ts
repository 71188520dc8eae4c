import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getEntity } from "../../src/db/entities";
import { makeEvent, postWebhook, uniqueId } from "../helpers/events";
import { eventRow, eventually } from "../helpers/queue";

describe("edge → queue → consumer → D1", () => {
  it("100 concurrent deliveries of one event: all answered 200, applied exactly once", async () => {
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord") } });
    const responses = await Promise.all(Array.from({ length: 100 }, () => postWebhook(event)));
    expect(responses.map((response) => response.status)).toEqual(Array(100).fill(200));
    const row = await eventually(async () => {
      const current = await env.DB.prepare(`SELECT status, applications FROM events WHERE event_id = ?1`)
        .bind(event.event_id)
        .first<{ status: string; applications: number }>();
      return current?.status === "processed" ? current : undefined;
    });
    // Let any straggling copies of the delivery reach the consumer too.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await eventRow(event.event_id)).applications).toBe(1);
    expect(row.applications).toBe(1);
    expect(await getEntity(env.DB, "order", String(event.data.order_id))).toMatchObject({ status: "shipped" });
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
    const order = await eventually(async () => {
      const rows = await Promise.all(lifecycle.map((event) => eventRow(event.event_id).catch(() => undefined)));
      if (!rows.every((row) => row?.status === "processed")) return undefined;
      return getEntity(env.DB, "order", orderId);
    });
    expect(order).toMatchObject({
      status: "delivered",
      first_event_at: at(9),
      last_event_at: at(12),
      tracking_number: "1Z999AA10123456784",
    });
  });
});
