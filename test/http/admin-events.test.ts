import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { adminFetch, adminJson } from "../helpers/admin";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, processedRow, runBatch, runDeadLetter } from "../helpers/queue";

interface EventList {
  events: { event_id: string; status: string; event_type: string; received_at: string }[];
  next_cursor: string | null;
}

describe("admin API: authentication", () => {
  it.each([
    ["no header", null, undefined],
    ["a wrong token", "wrong-token", undefined],
    ["a malformed header", null, "Basic abc"],
    ["a token differing only in length", "test-only-admin-token-4f9c2a7e1b8d3c6f-", undefined],
  ])("401 in the error shape with %s", async (_case, token, header) => {
    const response = await adminFetch("/events", header ? { headers: { authorization: header } } : {}, token);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: "unauthorized" } });
  });
});

describe("admin API: events", () => {
  const type = `audit:${uniqueId("t").replaceAll(/[^a-z]/g, "")}`;

  it("lists newest first with type and status filters and cursor pagination", async () => {
    const events = Array.from({ length: 5 }, () => makeEvent(type));
    for (const event of events) await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/events?type=${encodeURIComponent(type)}&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const { status, body } = await adminJson<EventList>(query);
      expect(status).toBe(200);
      expect(body.events.length).toBeLessThanOrEqual(2);
      seen.push(...body.events.map((event) => event.event_id));
      cursor = body.next_cursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(new Set(seen)).toEqual(new Set(events.map((event) => event.event_id)));
    expect(seen).toHaveLength(5);

    const ignored = await adminJson<EventList>(`/events?type=${encodeURIComponent(type)}&status=ignored`);
    expect(ignored.body.events).toHaveLength(5);
    const processed = await adminJson<EventList>(`/events?type=${encodeURIComponent(type)}&status=processed`);
    expect(processed.body.events).toHaveLength(0);
  });

  it("lists 50 by default and at most 100", async () => {
    const { body } = await adminJson<EventList>("/events");
    expect(body.events.length).toBeLessThanOrEqual(50);
    expect((await adminFetch("/events?limit=101")).status).toBe(400);
  });

  it.each(["status=sideways", "limit=0", "limit=abc", "cursor=not-a-cursor"])(
    "400 invalid_query for %s",
    async (query) => {
      const response = await adminFetch(`/events?${query}`);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: "invalid_query" } });
    },
  );

  it("shows one event's detail and 404s an unknown one", async () => {
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord") } });
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    const { status, body } = await adminJson(`/events/${event.event_id}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      event_id: event.event_id,
      event_type: "order:shipped",
      clinic_id: event.clinic_id,
      status: "processed",
      attempts: 1,
      last_error: null,
    });
    // order:shipped notifies on both channels by default; the outbox rows exist from the commit on.
    const notifications = body.notifications as { channel: string; status: string }[];
    expect(notifications.map((notification) => notification.channel)).toEqual(["email", "sms"]);
    for (const field of ["occurred_at", "received_at", "processed_at"])
      expect(Date.parse(String(body[field]))).not.toBeNaN();
    const missing = await adminFetch("/events/evt_nope");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "not_found" } });
  });
});

describe("admin API: replay", () => {
  it("exhausted retries → dead-letter consumer, handler still failing → dead → replay → processed", async () => {
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord") } });
    const dead = await runDeadLetter(event);
    expect(dead.explicitAcks).toHaveLength(1);
    const row = await eventRow(event.event_id);
    expect(row).toMatchObject({ status: "dead", attempts: 1, last_error: "handler error: Error", applications: 0 });
    expect(row.payload).not.toBeNull();

    const replay = await adminJson(`/events/${event.event_id}/replay`, { method: "POST" });
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ status: "queued", previous_status: "dead" });
    // The replay went through the real queue to the real consumer.
    const processed = await processedRow(event.event_id);
    expect(processed.applications).toBe(1);
    const order = await adminJson(`/orders/${String(event.data.order_id)}`);
    expect(order.body).toMatchObject({ status: "shipped", tracking_number: "1Z999AA10123456784" });
  });

  it("refuses to replay a processed event without force, and re-runs it idempotently with force", async () => {
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord") } });
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    const refused = await adminFetch(`/events/${event.event_id}/replay`, { method: "POST" });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: { code: "not_replayable" } });

    const forced = await adminFetch(`/events/${event.event_id}/replay?force=true`, { method: "POST" });
    expect(forced.status).toBe(202);
    const done = await processedRow(event.event_id);
    expect(done.applications).toBe(2);
    const order = await adminJson(`/orders/${String(event.data.order_id)}`);
    expect(order.body).toMatchObject({ status: "shipped" });
  });

  it("replays an invalid event, 404s an unknown one, and restores the status when the queue fails", async () => {
    const invalid = makeEvent("refill:denied", { data: { refill_id: 7 } });
    await runBatch(EVENTS_QUEUE, [eventMessage(invalid)]);
    expect((await eventRow(invalid.event_id)).status).toBe("invalid");
    vi.spyOn(env.EVENTS, "sendBatch").mockRejectedValueOnce(new Error("queue down"));
    const failed = await adminFetch(`/events/${invalid.event_id}/replay`, { method: "POST" });
    expect(failed.status).toBe(503);
    expect((await eventRow(invalid.event_id)).status).toBe("invalid");
    expect((await adminFetch("/events/evt_unknown/replay", { method: "POST" })).status).toBe(404);
  });
});

describe("admin API: entities", () => {
  it("shows an order, a medication request and a refill; 404 for unknown ids", async () => {
    const ids = { order_id: uniqueId("ord"), medication_request_id: uniqueId("mr"), refill_id: uniqueId("rf") };
    await runBatch(EVENTS_QUEUE, [
      eventMessage(makeEvent("order:shipped", { data: ids })),
      eventMessage(
        makeEvent("medication_request:approved", {
          data: { ...ids, medication_name: "Metformin 500mg", quantity: 1, refills: 3 },
        }),
      ),
      eventMessage(makeEvent("refill:denied", { data: { ...ids, denial_reason: "needs a visit" } })),
    ]);
    const order = await adminJson(`/orders/${ids.order_id}`);
    expect(order.status).toBe(200);
    expect(order.body).toMatchObject({
      order_id: ids.order_id,
      patient_id: "pat_67890",
      status: "shipped",
      carrier: "UPS",
      tracking_number: "1Z999AA10123456784",
      estimated_delivery: "2025-01-18",
      shipping_address: { line1: "123 Main Street", city: "San Francisco", state: "CA", zip: "94102" },
    });
    expect(order.body.last_event_at).toBeTypeOf("string");
    expect((await adminJson(`/medication-requests/${ids.medication_request_id}`)).body).toMatchObject({
      status: "approved",
      refills: 3,
    });
    expect((await adminJson(`/refills/${ids.refill_id}`)).body).toMatchObject({
      status: "denied",
      denial_reason: "needs a visit",
    });
    for (const path of ["/orders/nope", "/medication-requests/nope", "/refills/nope"]) {
      expect((await adminFetch(path)).status).toBe(404);
    }
  });
});

describe("admin API: stats", () => {
  it("counts events by status, conflicts and repeated applications", async () => {
    const before = (
      await adminJson<{ events: { total: number; by_status: Record<string, number>; conflicts: number } }>("/stats")
    ).body.events;
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord") } });
    await runBatch(EVENTS_QUEUE, [eventMessage(event), eventMessage(makeEvent("nothing:known"))]);
    await runBatch(EVENTS_QUEUE, [eventMessage({ ...event, data: { ...event.data, carrier: "DHL" } })]);
    const { status, body } = await adminJson<{
      events: { total: number; by_status: Record<string, number>; conflicts: number };
    }>("/stats");
    expect(status).toBe(200);
    expect(body.events.total).toBe(before.total + 2);
    expect(body.events.by_status.processed).toBe((before.by_status.processed ?? 0) + 1);
    expect(body.events.by_status.ignored).toBe((before.by_status.ignored ?? 0) + 1);
    expect(body.events.conflicts).toBe(before.conflicts + 1);
  });
});
