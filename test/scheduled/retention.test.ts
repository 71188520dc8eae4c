import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { payloadPurgeRun } from "../../src/db/events";
import worker from "../../src/index";
import { CRONS } from "../../src/scheduled/dispatch";
import { PURGE_CHUNK_ROWS, STUCK_EVENT_GRACE_DAYS } from "../../src/scheduled/retention";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";

const DAY = 86_400_000;

async function runRetention(now: number, overrides: Partial<Env> = {}) {
  const controller = createScheduledController({ scheduledTime: new Date(now), cron: CRONS.retention });
  await worker.scheduled(controller, { ...env, ...overrides });
}

/** Stores a processed event as if it had been received at `receivedAt`. */
async function storedEvent(receivedAt: number) {
  const event = makeEvent("invoice:sent");
  await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
  await env.DB.prepare(`UPDATE events SET received_at = ?2 WHERE event_id = ?1`)
    .bind(event.event_id, new Date(receivedAt).toISOString())
    .run();
  return event;
}

describe("payload retention", () => {
  const now = Date.parse("2026-06-30T03:17:00.000Z");

  it("removes payloads older than PAYLOAD_RETENTION_DAYS and keeps id, type, status, times", async () => {
    const old = await storedEvent(now - 31 * DAY);
    const recent = await storedEvent(now - 29 * DAY);
    await runRetention(now);
    const oldRow = await eventRow(old.event_id);
    expect(oldRow).toMatchObject({
      payload: null,
      status: "ignored",
      event_type: "invoice:sent",
      payload_purged_at: new Date(now).toISOString(),
    });
    expect(oldRow.received_at).toBe(new Date(now - 31 * DAY).toISOString());
    expect((await eventRow(recent.event_id)).payload).not.toBeNull();
  });

  it("keeps deduplication working after the purge", async () => {
    const old = await storedEvent(now - 40 * DAY);
    await runRetention(now);
    const redelivery = await runBatch(EVENTS_QUEUE, [eventMessage(old)]);
    expect(redelivery.explicitAcks).toHaveLength(1);
    expect(await eventRow(old.event_id)).toMatchObject({ status: "ignored", attempts: 1, payload: null });
  });

  it("honours a configured retention and purges in chunks until done", async () => {
    const events = await Promise.all(Array.from({ length: 3 }, () => storedEvent(now - 8 * DAY)));
    await runRetention(now, { PAYLOAD_RETENTION_DAYS: "10" });
    expect((await eventRow(events[0]!.event_id)).payload).not.toBeNull();
    await runRetention(now, { PAYLOAD_RETENTION_DAYS: "7" });
    for (const event of events) expect((await eventRow(event.event_id)).payload).toBeNull();
  });

  it("purges a backlog larger than one chunk", async () => {
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
       INSERT INTO events (event_id, event_type, clinic_id, status, occurred_at, received_at, payload, payload_hash)
       SELECT 'bulk_' || i, 'order:created', 'c', 'processed', ?2, ?2, '{}', 'h' FROM n`,
    )
      .bind(PURGE_CHUNK_ROWS * 2 + 5, new Date(now - 90 * DAY).toISOString())
      .run();
    await runRetention(now);
    const left = await env.DB.prepare(
      `SELECT COUNT(*) AS n FROM events WHERE event_id LIKE 'bulk_%' AND payload IS NOT NULL`,
    ).first<{ n: number }>();
    expect(left!.n).toBe(0);
  });
});

describe("payload retention from a mark (no index of the unpurged rows, migration 0161)", () => {
  const now = Date.parse("2026-06-30T03:17:00.000Z");
  const cutoff = new Date(now - 30 * DAY).toISOString();
  const iso = (at: number) => new Date(at).toISOString();

  /** Stores an event straight into D1 with `status`, received at `receivedAt`, its payload kept. */
  async function storedRow(status: string, receivedAt: number): Promise<string> {
    const eventId = uniqueId("evt");
    await env.DB.prepare(
      `INSERT INTO events (event_id, event_type, clinic_id, status, occurred_at, received_at, payload, payload_hash)
       VALUES (?1, 'order:created', 'c', ?2, ?3, ?3, '{}', 'h')`,
    )
      .bind(eventId, status, iso(receivedAt))
      .run();
    return eventId;
  }

  const payloadOf = async (eventId: string) => (await eventRow(eventId)).payload;
  const mark = async () =>
    (await env.DB.prepare(`SELECT at FROM retention_marks WHERE name = 'events.payload'`).first<{ at: string }>())?.at;

  it("a run that stops early leaves the mark at the first payload it left; the next run goes on from there", async () => {
    const ids: string[] = [];
    for (let day = 35; day > 30; day -= 1) ids.push(await storedRow("processed", now - day * DAY));
    const run = payloadPurgeRun(env.DB, { cutoff, stuckCutoff: cutoff, now: iso(now), chunk: 2 });
    expect(await run.next()).toBe(2);
    await run.moveMark();
    expect(await mark()).toBe(iso(now - 33 * DAY));
    expect(await payloadOf(ids[2]!)).not.toBeNull();
    await runRetention(now);
    for (const id of ids) expect(await payloadOf(id)).toBeNull();
    expect(await mark()).toBe(cutoff);
  });

  it("an event the purge passed in flight loses its payload at the next run once it finishes", async () => {
    const inFlight = await storedRow("failed", now - 31 * DAY);
    const finished = await storedRow("processed", now - 31 * DAY);
    await runRetention(now);
    expect(await payloadOf(finished)).toBeNull();
    expect(await payloadOf(inFlight)).not.toBeNull();
    expect(await mark()).toBe(cutoff);
    // Its retry succeeds: the completion moves the mark down to it.
    await env.DB.prepare(`UPDATE events SET status = 'processed' WHERE event_id = ?1`).bind(inFlight).run();
    expect(await mark()).toBe(iso(now - 31 * DAY));
    await runRetention(now);
    expect(await payloadOf(inFlight)).toBeNull();
    expect(await mark()).toBe(cutoff);
  });

  it("a redelivery that restores a purged payload below the mark has it purged again by the next run", async () => {
    const event = makeEvent("invoice:sent");
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    await env.DB.prepare(`UPDATE events SET status = 'dead', received_at = ?2 WHERE event_id = ?1`)
      .bind(event.event_id, iso(now - 40 * DAY))
      .run();
    await runRetention(now);
    expect(await payloadOf(event.event_id)).toBeNull();
    // A dead event is taken again by a delivery of the same content: the claim restores its payload.
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "ignored" });
    expect(await payloadOf(event.event_id)).not.toBeNull();
    expect(await mark()).toBe(iso(now - 40 * DAY));
    await runRetention(now);
    expect(await payloadOf(event.event_id)).toBeNull();
  });

  it("an event stuck in flight below the mark loses its payload once its grace is over", async () => {
    const stuck = await storedRow("processing", now - 31 * DAY);
    await runRetention(now);
    expect(await payloadOf(stuck)).not.toBeNull();
    expect(await mark()).toBe(cutoff);
    await runRetention(now + STUCK_EVENT_GRACE_DAYS * DAY);
    expect(await payloadOf(stuck)).toBeNull();
  });
});

describe("notification retention", () => {
  it("removes rendered message bodies with the payloads, keeping each notification's status", async () => {
    const now = Date.parse("2026-06-30T03:17:00.000Z");
    await env.DB.prepare(
      `INSERT INTO notifications (notification_id, event_id, channel, kind, patient_id, entity_id, status, rendered, created_at, updated_at)
       VALUES ('ntf_old', 'evt_old', 'sms', 'order_shipped', 'pat', 'ord', 'sent', '{"text":"old"}', ?1, ?1),
              ('ntf_new', 'evt_new', 'sms', 'order_shipped', 'pat', 'ord', 'sent', '{"text":"new"}', ?2, ?2)`,
    )
      .bind(new Date(now - 31 * DAY).toISOString(), new Date(now - DAY).toISOString())
      .run();
    await runRetention(now);
    const { results } = await env.DB.prepare(
      `SELECT notification_id, status, rendered FROM notifications WHERE notification_id IN ('ntf_old', 'ntf_new') ORDER BY notification_id`,
    ).all();
    expect(results).toEqual([
      { notification_id: "ntf_new", status: "sent", rendered: '{"text":"new"}' },
      { notification_id: "ntf_old", status: "sent", rendered: null },
    ]);
  });

  it("a text written below the mark (a message held past the cutoff, sent late) goes at the next run (migration 0162)", async () => {
    const now = Date.parse("2026-06-30T03:17:00.000Z");
    const createdAt = new Date(now - 31 * DAY).toISOString();
    await env.DB.prepare(
      `INSERT INTO notifications (notification_id, event_id, channel, kind, patient_id, entity_id, status, created_at, updated_at)
       VALUES ('ntf_late', 'evt_late', 'sms', 'order_shipped', 'pat', 'ord', 'held', ?1, ?1)`,
    )
      .bind(createdAt)
      .run();
    await runRetention(now);
    const mark = () =>
      env.DB.prepare(`SELECT at FROM retention_marks WHERE name = 'notifications.rendered'`).first<{ at: string }>();
    expect((await mark())?.at).toBe(new Date(now - 30 * DAY).toISOString());
    // Replayed and sent: the send mark writes its text below the mark, which moves down to it.
    await env.DB.prepare(
      `UPDATE notifications SET rendered = '{"text":"late"}', send_attempt = '{}', status = 'sent' WHERE notification_id = 'ntf_late'`,
    ).run();
    expect((await mark())?.at).toBe(createdAt);
    await runRetention(now);
    expect(
      await env.DB.prepare(
        `SELECT rendered, send_attempt FROM notifications WHERE notification_id = 'ntf_late'`,
      ).first(),
    ).toEqual({ rendered: null, send_attempt: null });
  });
});

describe("inbound reply retention", () => {
  it("deletes patients' replies older than PAYLOAD_RETENTION_DAYS with the payloads; newer ones stay", async () => {
    const now = Date.parse("2026-06-30T03:17:00.000Z");
    await env.DB.prepare(
      `INSERT INTO inbound_replies (reply_id, clinic_id, phone, body, received_at)
       VALUES ('rpl_old', NULL, '+14155550101', 'old', ?1), ('rpl_new', NULL, '+14155550101', 'new', ?2)`,
    )
      .bind(new Date(now - 31 * DAY).toISOString(), new Date(now - DAY).toISOString())
      .run();
    await runRetention(now);
    const { results } = await env.DB.prepare(
      `SELECT reply_id FROM inbound_replies WHERE reply_id IN ('rpl_old', 'rpl_new')`,
    ).all();
    expect(results).toEqual([{ reply_id: "rpl_new" }]);
  });
});
