import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEFAULT_CHANGE_FEED_DAYS } from "../../src/config/retention";
import type { ChangeBody } from "../../src/forwarding/changes";
import { purgeExpiredChanges } from "../../src/scheduled/retention";
import { accessEnv } from "../helpers/access";
import { adminFetch } from "../helpers/admin";
import { CLINIC_A, CLINIC_B } from "../helpers/clinics";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { applyAndCaptureJobs, createPatient, mockProviders, postTwilio, runSender } from "../helpers/notifications";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";
import { useStaffAccess } from "../helpers/staff-access";

const server = useMockNetwork();
const staff = useStaffAccess(server);

interface Feed {
  changes: ChangeBody[];
  next_cursor: string;
}

async function feed(query = ""): Promise<Feed> {
  const response = await adminFetch(`/changes${query}`);
  expect(response.status).toBe(200);
  return (await response.json()) as Feed;
}

/** Every change of one entity, in feed order. */
async function changesOf(entityId: string): Promise<ChangeBody[]> {
  const all: ChangeBody[] = [];
  let cursor = "0";
  for (;;) {
    const page = await feed(`?after=${cursor}&limit=100`);
    all.push(...page.changes);
    if (page.changes.length === 0) break;
    cursor = page.next_cursor;
  }
  return all.filter((change) => change.entity.id === entityId);
}

function orderEvent(type: string, orderId: string, patientId = "pat_feed", timestamp?: string) {
  return makeEvent(type, {
    ...(timestamp ? { timestamp } : {}),
    data: { order_id: orderId, patient_id: patientId },
  });
}

describe("changes: every status an entity takes, written by the statement that writes it", () => {
  it("an order's first status and each later one are changes, with sequences that increase", async () => {
    const orderId = uniqueId("ord");
    await runBatch(EVENTS_QUEUE, [
      eventMessage(orderEvent("order:created", orderId, "pat_feed", "2026-01-15T10:00:00Z")),
    ]);
    await runBatch(EVENTS_QUEUE, [
      eventMessage(orderEvent("order:processing", orderId, "pat_feed", "2026-01-15T11:00:00Z")),
    ]);
    const changes = await changesOf(orderId);
    expect(changes.map((change) => [change.type, change.entity.status, change.data.previous_status])).toEqual([
      ["order.status_changed", "created", null],
      ["order.status_changed", "processing", "created"],
    ]);
    const [first, second] = changes;
    if (!first || !second) throw new Error("two changes expected");
    expect(second.entity.sequence).toBeGreaterThan(first.entity.sequence);
    expect(first).toMatchObject({
      clinic_id: CLINIC_A,
      occurred_at: "2026-01-15T10:00:00.000Z",
      entity: { kind: "order", id: orderId },
    });
    expect(first.id).toMatch(/^chg_[0-9a-f]{24}$/);
    expect(first.id).not.toBe(second.id);
  });

  it("a redelivered, stale or same-status event writes no change", async () => {
    const orderId = uniqueId("ord");
    const shipped = orderEvent("order:shipped", orderId, "pat_feed", "2026-01-15T12:00:00Z");
    await runBatch(EVENTS_QUEUE, [eventMessage(shipped)]);
    await runBatch(EVENTS_QUEUE, [eventMessage(shipped, 2)]); // NovaMed's retry of the same event
    // An older status arriving late is kept out of the state, and so out of the feed.
    await runBatch(EVENTS_QUEUE, [
      eventMessage(orderEvent("order:processing", orderId, "pat_feed", "2026-01-15T11:00:00Z")),
    ]);
    expect((await changesOf(orderId)).map((change) => change.entity.status)).toEqual(["shipped"]);
  });

  it("a patient notification's sent and delivered are changes; pending is not", async () => {
    mockProviders(server);
    const patientId = await createPatient();
    const orderId = uniqueId("ord");
    const jobs = await applyAndCaptureJobs([orderEvent("order:shipped", orderId, patientId)]);
    expect(jobs.length).toBeGreaterThan(0);
    const ids = await env.DB.prepare(
      `SELECT notification_id FROM notifications WHERE entity_id = ?1 ORDER BY notification_id`,
    )
      .bind(orderId)
      .all<{ notification_id: string }>();
    const notificationIds = ids.results.map((row) => row.notification_id);
    expect(notificationIds.length).toBeGreaterThan(0);
    for (const id of notificationIds) expect(await changesOf(id)).toEqual([]);

    await runSender(jobs);
    for (const id of notificationIds) {
      const changes = await changesOf(id);
      expect(changes.map((change) => [change.type, change.entity.kind, change.entity.status])).toEqual([
        ["notification.status_changed", "notification", "sent"],
      ]);
      expect(changes[0]?.clinic_id).toBe(CLINIC_A);
    }
    // Twilio's delivery report for the SMS is one more change.
    const sms = await env.DB.prepare(
      `SELECT notification_id, provider_message_id FROM notifications WHERE entity_id = ?1 AND channel = 'sms'`,
    )
      .bind(orderId)
      .first<{ notification_id: string; provider_message_id: string }>();
    if (!sms) throw new Error("no SMS");
    const report = await postTwilio(`status?notification_id=${sms.notification_id}`, {
      MessageSid: sms.provider_message_id,
      MessageStatus: "delivered",
    });
    expect(report.status).toBe(204);
    const smsChanges = await changesOf(sms.notification_id);
    expect(smsChanges.map((change) => [change.entity.status, change.data.previous_status])).toEqual([
      ["sent", "pending"],
      ["delivered", "sent"],
    ]);
  });
});

describe("GET /admin/changes: the feed for systems that poll", () => {
  it("a client that resumes from its last cursor misses nothing and sees nothing twice", async () => {
    // Where the feed ends now: page through once.
    let cursor = "0";
    for (;;) {
      const page = await feed(`?after=${cursor}&limit=100`);
      if (page.changes.length === 0) break;
      cursor = page.next_cursor;
    }
    const orders = [uniqueId("ord"), uniqueId("ord"), uniqueId("ord")];
    for (const orderId of orders) await runBatch(EVENTS_QUEUE, [eventMessage(orderEvent("order:created", orderId))]);

    const seen: ChangeBody[] = [];
    for (let page = 0; page < 10; page++) {
      const next = await feed(`?after=${cursor}&limit=2`);
      if (next.changes.length === 0) {
        expect(next.next_cursor).toBe(cursor); // nothing new: the same cursor again
        break;
      }
      seen.push(...next.changes);
      cursor = next.next_cursor;
      // A change committed between two polls is in the next page.
      if (page === 0) await runBatch(EVENTS_QUEUE, [eventMessage(orderEvent("order:processing", orders[0] ?? ""))]);
    }
    const ids = seen.map((change) => change.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(seen.map((change) => `${change.entity.id} ${change.entity.status}`)).toEqual([
      `${orders[0]} created`,
      `${orders[1]} created`,
      `${orders[2]} created`,
      `${orders[0]} processing`,
    ]);
    const sequences = seen.map((change) => change.entity.sequence);
    expect([...sequences].sort((a, b) => a - b)).toEqual(sequences);
  });

  it("a limit over 100 or a malformed cursor is refused", async () => {
    expect((await adminFetch("/changes?limit=101")).status).toBe(400);
    expect((await adminFetch("/changes?after=abc")).status).toBe(400);
    expect((await adminFetch("/changes?after=-1")).status).toBe(400);
  });

  it("an identity of clinic A sees clinic A's changes only", async () => {
    const workerEnv = accessEnv({ NOVAMED_CLINIC_IDS: `${CLINIC_A},${CLINIC_B}` });
    const ofA = uniqueId("ord");
    const ofB = uniqueId("ord");
    await runBatch(EVENTS_QUEUE, [eventMessage(orderEvent("order:created", ofA))], workerEnv);
    await runBatch(
      EVENTS_QUEUE,
      [eventMessage({ ...orderEvent("order:created", ofB), clinic_id: CLINIC_B })],
      workerEnv,
    );
    const viewer = await staff.member(workerEnv, "viewer", [CLINIC_A]);
    let cursor = "0";
    const seen: string[] = [];
    for (;;) {
      const response = await staff.as(workerEnv, viewer, `/changes?after=${cursor}&limit=100`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as Feed;
      if (page.changes.length === 0) break;
      for (const change of page.changes) {
        expect(change.clinic_id).toBe(CLINIC_A);
        seen.push(change.entity.id);
      }
      cursor = page.next_cursor;
    }
    expect(seen).toContain(ofA);
    expect(seen).not.toContain(ofB);
  });
});

describe("the feed keeps CHANGE_FEED_DAYS (default 30)", () => {
  const now = new Date();
  /** An order created `days` days before `now`, with its change in the feed; answers its id. */
  async function orderCreatedDaysAgo(days: number): Promise<string> {
    const orderId = uniqueId("ord");
    const at = new Date(now.getTime() - days * 86_400_000).toISOString();
    await runBatch(EVENTS_QUEUE, [eventMessage(orderEvent("order:created", orderId, "pat_feed", at))]);
    expect(await changesOf(orderId)).toHaveLength(1);
    return orderId;
  }

  it("the daily retention deletes changes older than CHANGE_FEED_DAYS, oldest first, and keeps the rest", async () => {
    const old = await orderCreatedDaysAgo(31);
    const recent = await orderCreatedDaysAgo(29);
    const purged = await purgeExpiredChanges(env, now);
    expect(purged).toBeGreaterThanOrEqual(1);
    expect(await changesOf(old)).toEqual([]);
    expect(await changesOf(recent)).toHaveLength(1);
    expect(DEFAULT_CHANGE_FEED_DAYS).toBe(30);
  });

  it("CHANGE_FEED_DAYS=7 keeps a week: a change of 8 days ago goes, one of 6 days ago stays", async () => {
    const old = await orderCreatedDaysAgo(8);
    const recent = await orderCreatedDaysAgo(6);
    // The default keeps both.
    await purgeExpiredChanges(env, now);
    expect(await changesOf(old)).toHaveLength(1);
    await purgeExpiredChanges({ ...env, CHANGE_FEED_DAYS: "7" }, now);
    expect(await changesOf(old)).toEqual([]);
    expect(await changesOf(recent)).toHaveLength(1);
  });
});

describe("a sequence is never handed out twice", () => {
  it("even when every change is old enough to go, the newest stays and the next change follows it", async () => {
    const now = new Date();
    const old = new Date(now.getTime() - 40 * 86_400_000).toISOString();
    await runBatch(EVENTS_QUEUE, [eventMessage(orderEvent("order:created", uniqueId("ord"), "pat_feed", old))]);
    const newest = await env.DB.prepare(`SELECT MAX(sequence) AS sequence FROM changes`).first<{ sequence: number }>();
    await env.DB.prepare(`UPDATE changes SET occurred_at = ?1`).bind(old).run();
    await purgeExpiredChanges(env, now);
    const left = await env.DB.prepare(`SELECT sequence FROM changes`).all<{ sequence: number }>();
    expect(left.results).toEqual([{ sequence: newest?.sequence }]);
    const next = uniqueId("ord");
    await runBatch(EVENTS_QUEUE, [eventMessage(orderEvent("order:created", next))]);
    const [change] = await changesOf(next);
    expect(change?.entity.sequence).toBe((newest?.sequence ?? 0) + 1);
  });
});
