import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { SendJob } from "../../src/queue/send-job";
import { setClock } from "../helpers/clock";
import { makeEvent, postWebhook, uniqueId } from "../helpers/events";
import { createPatient, notificationsOf } from "../helpers/notifications";
import { WAIT } from "../helpers/wait";

// Real queues batch for up to a second (events) and two (notifications) before delivering.
const QUEUE_HOPS_TIMEOUT_MS = 20_000;

/**
 * Lets undelayed send jobs through to the real `patient-notifications` queue and keeps the delayed
 * ones (quiet-hours deferrals), so a test can deliver them itself once its clock reaches the opening
 * instead of waiting hours for the local queue.
 */
function holdDelayedSendJobs() {
  const held: { body: SendJob; delaySeconds: number }[] = [];
  const queue = env.NOTIFICATIONS;
  const sendBatch = queue.sendBatch.bind(queue);
  vi.spyOn(queue, "sendBatch").mockImplementation(async (messages, options) => {
    const now: MessageSendRequest[] = [];
    for (const message of messages) {
      if ((message.delaySeconds ?? 0) > 0)
        held.push({ body: message.body as SendJob, delaySeconds: message.delaySeconds! });
      else now.push(message);
    }
    // The sender ignores sendBatch's answer; the held part is never sent, so there is none to give.
    return now.length > 0 ? sendBatch(now, options) : (undefined as never);
  });
  return held;
}

async function postShipped(patientId: string) {
  const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
  expect((await postWebhook(event)).status).toBe(200);
  return event;
}

const statusesOf = async (eventId: string) => {
  const notifications = await notificationsOf(eventId);
  return { sms: notifications.sms?.status, email: notifications.email?.status, notifications };
};

describe("quiet hours through the real queues, with the clock injected", () => {
  it(
    "at 03:00 in New York: email now, SMS scheduled for the 08:00 opening, then sent when it opens",
    async () => {
      setClock("2026-01-15T08:00:00.000Z"); // 03:00 EST
      const held = holdDelayedSendJobs();
      const patientId = await createPatient({ timezone: "America/New_York" });
      const event = await postShipped(patientId);

      const night = await vi.waitFor(async () => {
        const current = await statusesOf(event.event_id);
        if (!(current.sms === "scheduled" && current.email === "sent")) throw new Error("not yet");
        return current.notifications;
      }, WAIT);
      expect(night.sms).toMatchObject({ scheduled_for: "2026-01-15T13:00:00.000Z", sent_at: null });
      expect(night.email).toMatchObject({ status: "sent", provider: "log" });
      expect(held).toEqual([{ body: { event_id: event.event_id, channel: "sms" }, delaySeconds: 5 * 3600 }]);

      setClock("2026-01-15T13:00:00.000Z"); // 08:00 EST: the window opens
      await env.NOTIFICATIONS.send(held[0]!.body, { contentType: "json" });
      const morning = await vi.waitFor(async () => {
        const current = await statusesOf(event.event_id);
        if (!(current.sms === "sent")) throw new Error("not yet");
        return current.notifications;
      }, WAIT);
      expect(morning.sms).toMatchObject({ status: "sent", provider: "log", sent_at: "2026-01-15T13:00:00.000Z" });
    },
    QUEUE_HOPS_TIMEOUT_MS,
  );

  it(
    "at 15:00 in New York: SMS and email are both sent at once",
    async () => {
      setClock("2026-01-15T20:00:00.000Z"); // 15:00 EST
      const held = holdDelayedSendJobs();
      const patientId = await createPatient({ timezone: "America/New_York" });
      const event = await postShipped(patientId);

      const sent = await vi.waitFor(async () => {
        const current = await statusesOf(event.event_id);
        if (!(current.sms === "sent" && current.email === "sent")) throw new Error("not yet");
        return current.notifications;
      }, WAIT);
      expect(sent.sms).toMatchObject({ provider: "log", scheduled_for: null, sent_at: "2026-01-15T20:00:00.000Z" });
      expect(held).toEqual([]);
    },
    QUEUE_HOPS_TIMEOUT_MS,
  );
});
