import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { consoleFetch, signIn } from "../helpers/console";
import { CLINIC_ID, makeEvent, postWebhook, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";
import { alertsOn, applyAt, HOUR, runWatch } from "../helpers/watch";

// Clinic ids are one case: the edge accepts a clinic_id in any case (the allow-list check ignores
// it), and the consumer stores it lower-case everywhere, so every later comparison with the
// configured ids holds.
const T0 = Date.parse("2026-04-06T09:00:00.000Z");

const clinicOf = async (table: string, key: string, id: string) =>
  (await env.DB.prepare(`SELECT clinic_id FROM ${table} WHERE ${key} = ?1`).bind(id).first<{ clinic_id: string }>())
    ?.clinic_id;

describe("clinic ids are stored lower-case", () => {
  it("the edge accepts an upper-case clinic id; the event and its entity are stored lower-case, the payload as sent", async () => {
    const orderId = uniqueId("ord");
    const event = makeEvent("order:created", { clinic_id: CLINIC_ID.toUpperCase(), data: { order_id: orderId } });
    expect((await postWebhook(event)).status).toBe(200);

    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    const row = await eventRow(event.event_id);
    expect(row.clinic_id).toBe(CLINIC_ID);
    expect(await clinicOf("orders", "order_id", orderId)).toBe(CLINIC_ID);
    expect(JSON.parse(row.payload ?? "{}").clinic_id).toBe(CLINIC_ID.toUpperCase());

    // NovaMed's redelivery of the same event is the same event: no conflict.
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    expect((await eventRow(event.event_id)).conflicts).toBe(0);
  });

  it("an upper-case UUID's silence opens the novamed_silence alert", async () => {
    const clinic = crypto.randomUUID();
    await applyAt(T0, "invoice:sent", {}, clinic.toUpperCase());
    await runWatch(T0 + 24 * HOUR, { NOVAMED_CLINIC_IDS: clinic });
    expect(await alertsOn(clinic, "novamed_silence")).toMatchObject([
      { clinic_id: clinic, state: "open", since: new Date(T0).toISOString() },
    ]);
  });

  it("the console shows when an upper-case UUID's clinic was last heard from", async () => {
    await applyAt(T0, "invoice:sent", {}, CLINIC_ID.toUpperCase());
    const { cookie } = await signIn();
    const html = await (await consoleFetch("/console", { cookie })).text();
    const clinicRow = html.slice(html.indexOf(`>${CLINIC_ID}<`)).split("</tr>")[0] ?? "";
    expect(clinicRow).toContain(CLINIC_ID);
    expect(clinicRow).not.toContain("never");
    expect(clinicRow).toContain("ago");
  });

  it("migration 0030 lower-cases rows stored before", async () => {
    const eventId = uniqueId("evt");
    const orderId = uniqueId("ord");
    const upper = CLINIC_ID.toUpperCase();
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO events (event_id, event_type, clinic_id, status, attempts, occurred_at, received_at, payload_hash)
         VALUES (?1, 'order:created', ?2, 'processed', 1, ?3, ?3, 'hash')`,
      ).bind(eventId, upper, new Date(T0).toISOString()),
      env.DB.prepare(
        `INSERT INTO orders (order_id, clinic_id, patient_id, status, status_rank, status_at, status_event_id,
           first_event_at, last_event_at, updated_at)
         VALUES (?1, ?2, 'pat_case', 'created', 1, ?3, 'evt_case', ?3, ?3, ?3)`,
      ).bind(orderId, upper, new Date(T0).toISOString()),
    ]);
    const migration = env.TEST_MIGRATIONS.find((entry) => entry.name.startsWith("0030_"));
    expect(migration).toBeDefined();
    await env.DB.batch((migration?.queries ?? []).map((query) => env.DB.prepare(query)));
    expect((await eventRow(eventId)).clinic_id).toBe(CLINIC_ID);
    expect(await clinicOf("orders", "order_id", orderId)).toBe(CLINIC_ID);
  });
});
