import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { statusHistorySql } from "../../src/db/notification-views";
import { setClock } from "../helpers/clock";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import {
  applyAndCaptureJobs,
  createPatient,
  mockProviders,
  type NotificationView,
  notificationsOf,
  providerEnv,
  runSender,
} from "../helpers/notifications";

const server = useMockNetwork();

/** Applies one shipped event for the patient at `at` and runs its jobs of `channel` at the same instant. */
async function shipAt(patientId: string, at: string, channel: "sms" | "email", workerEnv: Env) {
  const now = setClock(at);
  const orderId = uniqueId("ord");
  const event = makeEvent("order:shipped", { timestamp: at, data: { order_id: orderId, patient_id: patientId } });
  const jobs = (await applyAndCaptureJobs([event])).filter((job) => job.channel === channel);
  const run = await runSender(jobs, { workerEnv, now });
  return { ...(await notificationsOf(event.event_id))[channel]!, jobs, run, orderId, event };
}

/** Runs a waiting message's job again at `at`; returns its notification as the event detail shows it. */
async function againAt(shipped: Awaited<ReturnType<typeof shipAt>>, at: string, workerEnv: Env) {
  const now = setClock(at);
  await runSender(shipped.jobs, { workerEnv, now });
  return (await notificationsOf(shipped.event.event_id))[shipped.jobs[0]!.channel]!;
}

/** Ships an SMS at each of `sentAt` (each is sent), then one more at `nextAt`, returned. */
async function sentThenShip(patientId: string, sentAt: readonly string[], nextAt: string, workerEnv: Env) {
  for (const at of sentAt) expect((await shipAt(patientId, at, "sms", workerEnv)).status).toBe("sent");
  return shipAt(patientId, nextAt, "sms", workerEnv);
}

/** One SMS sent at 10:00 in New York on the 15th, then a second an hour later, over the cap. */
async function sentThenCapped(workerEnv: Env) {
  const providers = mockProviders(server);
  const patientId = await createPatient({ timezone: "America/New_York" });
  return {
    providers,
    patientId,
    second: await sentThenShip(patientId, ["2026-01-15T15:00:00Z"], "2026-01-15T16:00:00Z", workerEnv),
  };
}

/** The notification waits (`scheduled`) for a cap, with the reason, its setting and the opening. */
function expectWaiting(notification: NotificationView, reason: string, setting: string, scheduledFor: string) {
  expect(notification).toMatchObject({
    status: "scheduled",
    error: reason,
    reason,
    reason_setting: setting,
    scheduled_for: scheduledFor,
  });
}

describe("per-patient daily cap: a message over it waits for the patient's next allowed day", () => {
  it("3 SMS per local day by default: the 4th before the patient's midnight waits for the next day, then goes", async () => {
    const providers = mockProviders(server);
    // Los Angeles: local midnight is 08:00Z. SMS are allowed all day for this test.
    const workerEnv = providerEnv({ SMS_SEND_WINDOW: "00:00-24:00" });
    const patientId = await createPatient({ timezone: "America/Los_Angeles" });
    const evening = ["2026-01-16T07:00:00Z", "2026-01-16T07:20:00Z", "2026-01-16T07:40:00Z"]; // 23:00-23:40
    // 23:50 local, still the same day for the patient (though already the 16th in UTC since midnight UTC).
    const fourth = await sentThenShip(patientId, evening, "2026-01-16T07:50:00Z", workerEnv);
    expectWaiting(fourth, "daily_cap", "SMS_DAILY_CAP", "2026-01-16T08:00:00.000Z");
    expect(fourth.run.delayed).toEqual([{ body: fourth.jobs[0], delaySeconds: 600 }]);
    expect(providers.sms).toHaveLength(3);
    // 00:00 local: a new day for the patient; the waiting message is decided afresh and goes.
    expect((await againAt(fourth, "2026-01-16T08:00:00Z", workerEnv)).status).toBe("sent");
    expect((await shipAt(patientId, "2026-01-16T08:10:00Z", "sms", workerEnv)).status).toBe("sent");
    expect(providers.sms).toHaveLength(5);
  });

  it("the waiting SMS goes at the next day's send window, and is superseded if its order moved on", async () => {
    const workerEnv = providerEnv({ SMS_DAILY_CAP: "1" });
    const { providers, patientId, second } = await sentThenCapped(workerEnv);
    // The next allowed day opens at 08:00 in New York (the send window), not at midnight.
    expect(second).toMatchObject({
      status: "scheduled",
      reason: "daily_cap",
      scheduled_for: "2026-01-16T13:00:00.000Z",
    });
    setClock("2026-01-15T18:00:00Z");
    await applyAndCaptureJobs([
      makeEvent("order:delivered", { data: { order_id: second.orderId, patient_id: patientId } }),
    ]);
    expect(await againAt(second, "2026-01-16T13:00:00Z", workerEnv)).toMatchObject({
      status: "superseded",
      error: "entity now delivered",
    });
    expect(providers.sms).toHaveLength(1);
  });

  it("counts by the patient's day, not UTC's: sends before UTC midnight still count after it", async () => {
    mockProviders(server);
    const workerEnv = providerEnv({ SMS_SEND_WINDOW: "00:00-24:00", SMS_DAILY_CAP: "1" });
    const patientId = await createPatient({ timezone: "America/New_York" });
    // 18:30 and 19:30 in New York on the 15th: 23:30Z on the 15th, then 00:30Z on the 16th.
    expect((await shipAt(patientId, "2026-01-15T23:30:00Z", "sms", workerEnv)).status).toBe("sent");
    expect(await shipAt(patientId, "2026-01-16T00:30:00Z", "sms", workerEnv)).toMatchObject({
      error: "daily_cap",
      scheduled_for: "2026-01-16T05:00:00.000Z",
    });
  });

  it("5 emails by default, configurable, and a burst within one batch is capped too", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const events = Array.from({ length: 7 }, () =>
      makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } }),
    );
    const jobs = (await applyAndCaptureJobs(events)).filter((job) => job.channel === "email");
    await runSender(jobs);
    expect(providers.emails).toHaveLength(5);
    const statuses = await Promise.all(events.map(async (event) => (await notificationsOf(event.event_id)).email!));
    const waiting = statuses.filter((email) => email.error === "daily_cap");
    expect(waiting).toHaveLength(2);
    // Email has no send window: it waits for the patient's midnight (New York).
    for (const email of waiting)
      expect(email).toMatchObject({
        status: "scheduled",
        reason_setting: "EMAIL_DAILY_CAP",
        scheduled_for: "2026-01-16T05:00:00.000Z",
      });

    const other = await createPatient();
    const more = await applyAndCaptureJobs([
      makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: other } }),
      makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: other } }),
    ]);
    await runSender(
      more.filter((job) => job.channel === "email"),
      { workerEnv: providerEnv({ EMAIL_DAILY_CAP: "1" }) },
    );
    expect(providers.emails).toHaveLength(6);
  });
});

describe("weekly SMS cap (SMS_WEEKLY_CAP) and the 48-hour limit", () => {
  it("off by default; at 3 a week the 4th text in 7 local days waits until the oldest leaves the week", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient({ timezone: "America/New_York" });
    // Noon in New York on the 5th, 9th and 10th; then the 11th.
    const days = ["2026-01-05T17:00:00Z", "2026-01-09T17:00:00Z", "2026-01-10T17:00:00Z"];
    const tcpa = providerEnv({ SMS_DAILY_CAP: "1", SMS_WEEKLY_CAP: "3" });
    const fourth = await sentThenShip(patientId, days, "2026-01-11T17:00:00Z", tcpa);
    // The 12th's week (6th to 12th) holds two: it opens at 08:00 there.
    expectWaiting(fourth, "weekly_cap", "SMS_WEEKLY_CAP", "2026-01-12T13:00:00.000Z");
    expect((await againAt(fourth, "2026-01-12T13:00:00Z", tcpa)).status).toBe("sent");
    // Without the weekly cap, only the daily one counts.
    const other = await createPatient({ timezone: "America/New_York" });
    const daily = providerEnv({ SMS_DAILY_CAP: "1" });
    for (const at of [...days, "2026-01-11T17:00:00Z"])
      expect((await shipAt(other, at, "sms", daily)).status).toBe("sent");
    expect(providers.sms).toHaveLength(8);
  });

  it("a message that cannot go within 48 hours of its creation ends suppressed `expired`", async () => {
    const workerEnv = providerEnv({ SMS_WEEKLY_CAP: "1" });
    const { providers, second } = await sentThenCapped(workerEnv);
    // The next allowed day is a week away: it waits no longer than 48 hours.
    expect(second).toMatchObject({
      status: "scheduled",
      reason: "weekly_cap",
      scheduled_for: "2026-01-17T16:00:00.000Z",
    });
    expect(await againAt(second, "2026-01-17T16:00:00Z", workerEnv)).toMatchObject({
      status: "suppressed",
      error: "expired",
      reason: "expired",
    });
    expect(providers.sms).toHaveLength(1);
    // The history as every reader sees it (the first status lives on the notification row).
    const { results } = await env.DB.prepare(`${statusHistorySql("= ?1")} ORDER BY seq`)
      .bind(second.notification_id)
      .all<{ status: string }>();
    expect(results.map((row) => row.status)).toEqual(["pending", "scheduled", "suppressed"]);
  });
});
