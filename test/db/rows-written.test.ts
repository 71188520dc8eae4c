import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { uniqueId } from "../helpers/events";

/**
 * D1 bills a row written for every index entry a write adds, changes or removes (issue 26.2). The
 * lookups that only ever ask for a present value index only the present values: an id an event does
 * not name, or a provider id a notification does not have yet, costs no index entry.
 */

async function insertEvent(data: Record<string, string>, status = "processed"): Promise<number> {
  const eventId = uniqueId("evt");
  const payload = JSON.stringify({ event_id: eventId, event_type: "order:shipped", data });
  const result = await env.DB.prepare(
    `INSERT INTO events (event_id, event_type, clinic_id, status, occurred_at, received_at, payload, payload_hash)
     VALUES (?1, 'order:shipped', 'clinic_rows', ?3, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', ?2, 'h')`,
  )
    .bind(eventId, payload, status)
    .run();
  return result.meta.rows_written;
}

async function insertNotification(providerMessageId: string | null): Promise<number> {
  const id = uniqueId("ntf");
  const result = await env.DB.prepare(
    `INSERT INTO notifications (notification_id, event_id, channel, kind, topic, patient_id, entity_id, status,
       provider_message_id, created_at, updated_at)
     VALUES (?1, ?1, 'sms', 'order_shipped', 'shipped', 'pat_rows', ?1, 'sent', ?2, '2026-01-01T00:00:00Z',
       '2026-01-01T00:00:00Z')`,
  )
    .bind(id, providerMessageId)
    .run();
  return result.meta.rows_written;
}

describe("D1 rows written per event", () => {
  it("an event naming two of the four indexed ids writes two index entries fewer than one naming all four", async () => {
    const all = await insertEvent({
      order_id: uniqueId("ord"),
      medication_request_id: uniqueId("mr"),
      refill_id: uniqueId("rf"),
      patient_id: uniqueId("pat"),
    });
    const two = await insertEvent({ order_id: uniqueId("ord"), patient_id: uniqueId("pat") });
    expect(all - two).toBe(2);
  });

  it("an event claimed as processing writes no more index entries than a finished one", async () => {
    const data = () => ({ order_id: uniqueId("ord"), patient_id: uniqueId("pat") });
    expect(await insertEvent(data(), "processing")).toBe(await insertEvent(data(), "processed"));
  });

  it("a notification without a provider id writes no provider-id index entry", async () => {
    const withId = await insertNotification(uniqueId("SM"));
    const withoutId = await insertNotification(null);
    expect(withId - withoutId).toBe(1);
  });
});
