import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { CRONS } from "../../src/scheduled/dispatch";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";

const DAY = 86_400_000;
const now = Date.parse("2026-06-30T03:17:00.000Z");

async function runDailyJobs(overrides: Partial<Env> = {}) {
  const controller = createScheduledController({ scheduledTime: new Date(now), cron: CRONS.retention });
  await worker.scheduled(controller, { ...env, ...overrides });
}

/** Stores an event through the consumer, then moves its receipt to `receivedAt` and its status. */
async function storedEvent(receivedAt: number, status?: string) {
  const event = makeEvent("order:created", { data: { order_id: uniqueId("ord") } });
  await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
  await env.DB.prepare(`UPDATE events SET received_at = ?2, status = COALESCE(?3, status) WHERE event_id = ?1`)
    .bind(event.event_id, new Date(receivedAt).toISOString(), status ?? null)
    .run();
  return event;
}

/** A notification row in `status`, created at `createdAt`. */
async function storedNotification(status: string, createdAt: number) {
  const id = uniqueId("ntf");
  const at = new Date(createdAt).toISOString();
  await env.DB.prepare(
    `INSERT INTO notifications (notification_id, event_id, channel, kind, patient_id, entity_id, status, created_at, updated_at)
     VALUES (?1, ?2, 'sms', 'order_shipped', 'pat_compaction', 'ord_compaction', ?3, ?4, ?4)`,
  )
    .bind(id, uniqueId("evt"), status, at)
    .run();
  return id;
}

const eventExists = async (eventId: string) =>
  (await env.DB.prepare(`SELECT 1 AS found FROM events WHERE event_id = ?1`).bind(eventId).first()) !== null;
const notificationExists = async (id: string) =>
  (await env.DB.prepare(`SELECT 1 AS found FROM notifications WHERE notification_id = ?1`).bind(id).first()) !== null;

const historyRows = async (id: string) =>
  (
    await env.DB.prepare(`SELECT COUNT(*) AS n FROM notification_status_history WHERE notification_id = ?1`)
      .bind(id)
      .first<{ n: number }>()
  )?.n ?? 0;

describe("row compaction (EVENT_ROW_RETENTION_DAYS)", () => {
  it("is off by default: old final rows stay", async () => {
    const old = await storedEvent(now - 400 * DAY);
    const sent = await storedNotification("sent", now - 400 * DAY);
    // The archive (src/archive/) would move them to R2 after ARCHIVE_AFTER_DAYS: out of this test's way.
    await runDailyJobs({ ARCHIVE_AFTER_DAYS: "3650" });
    expect(await eventExists(old.event_id)).toBe(true);
    expect(await notificationExists(sent)).toBe(true);
  });

  it("deletes final rows older than the horizon and keeps everything a retry or a replay still needs", async () => {
    const old = await storedEvent(now - 15 * DAY);
    const recent = await storedEvent(now - 13 * DAY);
    const dead = await storedEvent(now - 15 * DAY, "dead");
    const failed = await storedEvent(now - 15 * DAY, "failed");
    const oldSent = await storedNotification("sent", now - 15 * DAY);
    const oldSuppressed = await storedNotification("suppressed", now - 15 * DAY);
    const oldHeld = await storedNotification("held", now - 15 * DAY);
    const oldFailed = await storedNotification("failed", now - 15 * DAY);
    const oldScheduled = await storedNotification("scheduled", now - 15 * DAY);
    const recentSent = await storedNotification("sent", now - 13 * DAY);
    await runDailyJobs({ EVENT_ROW_RETENTION_DAYS: "14" });
    expect(await eventExists(old.event_id)).toBe(false);
    for (const kept of [recent, dead, failed]) expect(await eventExists(kept.event_id)).toBe(true);
    for (const gone of [oldSent, oldSuppressed]) expect(await notificationExists(gone)).toBe(false);
    for (const kept of [oldHeld, oldFailed, oldScheduled, recentSent])
      expect(await notificationExists(kept)).toBe(true);
  });

  it("deletes a compacted notification's status history with it, and keeps the history of a kept one", async () => {
    const oldSent = await storedNotification("sent", now - 15 * DAY);
    const oldHeld = await storedNotification("held", now - 15 * DAY);
    await env.DB.prepare(`UPDATE notifications SET status = 'delivered' WHERE notification_id = ?1`)
      .bind(oldSent)
      .run();
    expect(await historyRows(oldSent)).toBe(2);
    expect(await historyRows(oldHeld)).toBe(1);
    await runDailyJobs({ EVENT_ROW_RETENTION_DAYS: "14" });
    expect(await notificationExists(oldSent)).toBe(false);
    expect(await historyRows(oldSent)).toBe(0);
    expect(await historyRows(oldHeld)).toBe(1);
  });

  it("keeps deduplication within NovaMed's retry horizon: a redelivery an hour later is not applied again", async () => {
    // The shortest horizon (1 day) against NovaMed's last retry, about 1 h 21 min after the first.
    const event = await storedEvent(now - 82 * 60_000);
    await runDailyJobs({ EVENT_ROW_RETENTION_DAYS: "1" });
    const redelivery = await runBatch(EVENTS_QUEUE, [eventMessage(event, 1)]);
    expect(redelivery.explicitAcks).toHaveLength(1);
    // The original row answered the redelivery (a new row would carry the redelivery's receipt time).
    expect(await eventRow(event.event_id)).toMatchObject({
      applications: 1,
      received_at: new Date(now - 82 * 60_000).toISOString(),
    });
  });
});
