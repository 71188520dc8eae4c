import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { notificationWithHistory } from "../../src/db/notification-views";
import { ALL_CLINICS } from "../../src/db/scope";
import { batchedMeta } from "../helpers/d1";
import { makeEvent, uniqueId } from "../helpers/events";
import { applyAndCaptureJobs, createPatient, runSender } from "../helpers/notifications";

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

/**
 * Applies a new patient's `order:shipped` and sends its messages, recording the runtime's `meta` of
 * the sender's statements that start with `sqlPrefix` ({@link batchedMeta}); every job is acked.
 */
async function sendShipped(sqlPrefix: string) {
  const patientId = await createPatient();
  const shipped = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
  const jobs = await applyAndCaptureJobs([shipped]);
  const { db, metas } = batchedMeta(env.DB, sqlPrefix);
  const result = await runSender(jobs, { workerEnv: { ...env, DB: db } });
  expect(result.explicitAcks).toHaveLength(jobs.length);
  return { shipped, jobs, metas };
}

describe("D1 rows written per event", () => {
  it("a processed event indexes its own entity's id only; one not processed also the patient and medication request it names", async () => {
    const data = () => ({
      order_id: uniqueId("ord"),
      medication_request_id: uniqueId("mr"),
      refill_id: uniqueId("rf"),
      patient_id: uniqueId("pat"),
    });
    const own = await insertEvent({ order_id: uniqueId("ord") });
    // Migration 0184: an order event's refill, medication request and patient ids cost no entry.
    expect(await insertEvent(data())).toBe(own);
    // Not processed (here invalid): its status entry, and events_unapplied_patient and
    // events_unapplied_medication_request, as no entity may hold those ids.
    expect(await insertEvent(data(), "invalid")).toBe(own + 3);
    expect(await insertEvent({ order_id: uniqueId("ord") }, "invalid")).toBe(own + 1);
  });

  it("an event is its primary key's entry (WITHOUT ROWID) and has no purge entry: the row and one per index", async () => {
    // As the claim inserts it: received, status, type, clinic, its order's id, and (not processed) its
    // patient's id: 6 entries and the row; a rowid table wrote an entry for the primary key (migration 0160), events_purge one for the
    // payload kept (migration 0161: the purge starts from a mark instead), and the id search one for
    // lower(event_id) (migration 0182: only an id with an upper-case letter has one).
    expect(await insertEvent({ order_id: uniqueId("ord"), patient_id: uniqueId("pat") }, "processing")).toBe(7);
  });

  it("an event claimed as processing writes two index entries more than a processed one: its status and its patient", async () => {
    // events_status_received keeps no processed event (migration 0170), events_unapplied_patient no
    // processed one either (0184); no other index of the rows in flight (0086 dropped
    // events_stuck_processing, 0161 events_purge).
    const data = () => ({ order_id: uniqueId("ord"), patient_id: uniqueId("pat") });
    expect(await insertEvent(data(), "processing")).toBe((await insertEvent(data(), "processed")) + 2);
  });

  it("a notification without a provider id writes no provider-id index entry", async () => {
    const withId = await insertNotification(uniqueId("SM"));
    const withoutId = await insertNotification(null);
    expect(withId - withoutId).toBe(1);
  });

  it("a notification is its primary key's entry (WITHOUT ROWID): the row and one entry per index it belongs to", async () => {
    const id = uniqueId("ntf");
    const result = await env.DB.prepare(
      `INSERT INTO notifications (notification_id, event_id, channel, kind, topic, patient_id, entity_id, status,
         created_at, updated_at, created_status)
       VALUES (?1, ?1, 'sms', 'order_shipped', 'shipped', 'pat_rows', ?1, 'pending', '2026-01-01T00:00:00Z',
         '2026-01-01T00:00:00Z', 'pending')`,
    )
      .bind(id)
      .run();
    // An id not derived from its (event, channel), as written before migration 0186: (event_id,
    // channel), one per topic, patient, status, created: 5 entries and the row; a rowid table wrote an
    // entry for the primary key (migration 0160), and the id search one for lower(notification_id)
    // (dropped by 0177: the search ranges over the primary key). A pending row starts no history row
    // (0131) and no change (0121). An outbox insert now derives its id and writes 5
    // (test/db/notification-keys.test.ts).
    expect(result.meta.rows_written).toBe(6);
  });

  it("a sender write to a pending notification that leaves its status writes the row alone (no sweep or text index)", async () => {
    const id = uniqueId("ntf");
    await env.DB.prepare(
      `INSERT INTO notifications (notification_id, event_id, channel, kind, topic, patient_id, entity_id, status,
         created_at, updated_at)
       VALUES (?1, ?1, 'sms', 'order_shipped', 'shipped', 'pat_rows', ?1, 'pending', '2026-01-01T00:00:00Z',
         '2026-01-01T00:00:00Z')`,
    )
      .bind(id)
      .run();
    // The send mark, which also takes the row under the sender's lease (updated_at, lease, attempts;
    // migration 0130), with the text: the row alone (migration 0162: no index of the rows with a text).
    const mark = await env.DB.prepare(
      `UPDATE notifications SET send_started_at = '2026-01-01T00:01:00Z', rendered = '{"text":"t"}', send_attempt = '{}',
         lease_token = 't', lease_expires_at = 1, attempts = attempts + 1, updated_at = '2026-01-01T00:01:00Z'
       WHERE notification_id = ?1`,
    )
      .bind(id)
      .run();
    expect(mark.meta.rows_written).toBe(1);
  });

  it("a send writes no claim of its own: the send mark takes the row, then the outcome (3 rows a message)", async () => {
    // Every write the sender made to its notifications, by the runtime's meta (the read is no write).
    const { shipped, jobs, metas } = await sendShipped("UPDATE notifications");
    // Per message: the mark (the row) and the outcome (the row and its change). Until issue 26.2's
    // read, a claim statement first wrote each row once more under the lease (4 a message).
    expect(metas.map((meta) => meta.rows_written).sort()).toEqual([...jobs.map(() => 1), ...jobs.map(() => 2)]);
    const rows = await env.DB.prepare(`SELECT status, attempts, lease_token FROM notifications WHERE event_id = ?1`)
      .bind(shipped.event_id)
      .all<{ status: string; attempts: number; lease_token: string | null }>();
    // Taken once each (the attempt counts the take), and recorded under the lease that took it.
    expect(rows.results).toEqual(jobs.map(() => ({ status: "sent", attempts: 1, lease_token: expect.any(String) })));
  });

  it("an outbox insert folds its first status into the row: no history row written, the same history read", async () => {
    const patientId = await createPatient();
    const shipped = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
    await applyAndCaptureJobs([shipped]);
    const rows = await env.DB.prepare(
      `SELECT notification_id, created_status, created_at FROM notifications WHERE event_id = ?1 ORDER BY channel`,
    )
      .bind(shipped.event_id)
      .all<{ notification_id: string; created_status: string | null; created_at: string }>();
    expect(rows.results.length).toBeGreaterThan(0);
    for (const row of rows.results) {
      expect(row.created_status).toBe("pending");
      const stored = await env.DB.prepare(
        `SELECT COUNT(*) AS n FROM notification_status_history WHERE notification_id = ?1`,
      )
        .bind(row.notification_id)
        .first<{ n: number }>();
      expect(stored?.n).toBe(0);
      // The first row is read back as the trigger used to write it, and a later change follows it.
      await env.DB.prepare(
        `UPDATE notifications SET status = 'sent', updated_at = '2030-01-01T00:00:00.000Z', provider_message_id = 'SMx'
         WHERE notification_id = ?1`,
      )
        .bind(row.notification_id)
        .run();
      const found = await notificationWithHistory(env.DB, ALL_CLINICS, row.notification_id);
      expect(found?.history).toEqual([
        { status: "pending", at: row.created_at, error: null, provider_message_id: null },
        { status: "sent", at: "2030-01-01T00:00:00.000Z", error: null, provider_message_id: "SMx" },
      ]);
    }
  });

  it("a notification inserted without created_status (held, or older code) keeps its stored first row, read once", async () => {
    const id = uniqueId("ntf");
    await env.DB.prepare(
      `INSERT INTO notifications (notification_id, event_id, channel, kind, topic, patient_id, entity_id, status, error,
         created_at, updated_at)
       VALUES (?1, ?1, 'sms', 'order_shipped', 'shipped', 'pat_rows', ?1, 'held', 'reason', '2026-01-01T00:00:00Z',
         '2026-01-01T00:00:00Z')`,
    )
      .bind(id)
      .run();
    const found = await notificationWithHistory(env.DB, ALL_CLINICS, id);
    expect(found?.history).toEqual([
      { status: "held", at: "2026-01-01T00:00:00Z", error: "reason", provider_message_id: null },
    ]);
  });

  it("a send's outcome leaves the text its send mark stored: no rendered-purge index entry written again", async () => {
    // The rows each outcome statement wrote, by the runtime's meta, through the sender's own batches.
    const { shipped, jobs, metas } = await sendShipped("UPDATE notifications SET status = CASE");
    // Each sent message (the log providers give no provider id): the row and the change (migration
    // 0121); the history reads `sent` from the row until it is left (0185: a history row before).
    // Assigning `rendered` again added the notifications_rendered entry the send mark had already
    // written (6); the row's status entry (a sent row leaves the status index, 0176) and the history
    // row's index entry (the history is keyed by its own rows, 0175) made 5.
    expect(metas.map((meta) => meta.rows_written)).toEqual(jobs.map(() => 2));
    const rows = await env.DB.prepare(`SELECT status, rendered FROM notifications WHERE event_id = ?1`)
      .bind(shipped.event_id)
      .all<{ status: string; rendered: string | null }>();
    expect(rows.results).toHaveLength(jobs.length);
    for (const row of rows.results) {
      expect(row.status).toBe("sent");
      expect(JSON.parse(row.rendered ?? "null")).toHaveProperty("text");
    }
  });
});
