import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { configProblems } from "../../src/config/health";
import worker from "../../src/index";
import type { SendJob } from "../../src/queue/send-job";
import { adminFetch, adminJson } from "../helpers/admin";
import { envWith } from "../helpers/config";
import { ADMIN_TOKEN, makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import {
  applyAndCaptureJobs,
  createPatient,
  mockProviders,
  notificationsOf,
  providerEnv,
  runSender,
} from "../helpers/notifications";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";

const server = useMockNetwork();

const shippedFor = (patientId: string) =>
  makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });

/** Calls POST /admin/notifications/replay and returns the answer with the send jobs it enqueued. */
async function replay(body: unknown) {
  const sendBatch = vi.spyOn(env.NOTIFICATIONS, "sendBatch").mockResolvedValue(undefined as never);
  try {
    const response = await adminFetch("/notifications/replay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const jobs = sendBatch.mock.calls.flatMap(([messages]) => [...messages].map((message) => message.body as SendJob));
    return { status: response.status, body: (await response.json()) as Record<string, unknown>, jobs };
  } finally {
    sendBatch.mockRestore();
  }
}

describe("providers are chosen, never assumed", () => {
  it("SMS_PROVIDER unset holds the SMS with the reason and sends the email; the job is acked, not dead-lettered", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const event = shippedFor(patientId);
    const jobs = await applyAndCaptureJobs([event]);
    const result = await runSender(jobs, { workerEnv: providerEnv({ SMS_PROVIDER: "" }) });
    expect(result.explicitAcks).toHaveLength(2);
    expect(result.retryMessages).toEqual([]);
    expect(providers.sms).toHaveLength(0);
    expect(providers.emails).toHaveLength(1);
    const notifications = await notificationsOf(event.event_id);
    expect(notifications.sms).toMatchObject({ status: "held", error: "SMS_PROVIDER is not set (twilio or log)" });
    expect(notifications.email).toMatchObject({ status: "sent", provider: "resend" });
  });

  it.each([
    ["TWILIO_AUTH_TOKEN", { TWILIO_AUTH_TOKEN: "" }, "sms"],
    ["TWILIO_MESSAGING_SERVICE_SID", { TWILIO_MESSAGING_SERVICE_SID: "", TWILIO_FROM_NUMBER: "" }, "sms"],
    ["EMAIL_FROM", { EMAIL_FROM: "" }, "email"],
    ["RESEND_API_KEY", { RESEND_API_KEY: " " }, "email"],
  ] as const)(
    "a half-configured provider (%s missing) holds only its channel, naming the variable",
    async (variable, overrides, channel) => {
      const providers = mockProviders(server);
      const event = shippedFor(await createPatient());
      const result = await runSender(await applyAndCaptureJobs([event]), { workerEnv: providerEnv(overrides) });
      expect(result.explicitAcks).toHaveLength(2);
      const notifications = await notificationsOf(event.event_id);
      expect(notifications[channel]!.status).toBe("held");
      expect(notifications[channel]!.error).toMatch(new RegExp(`^${variable} `));
      expect(notifications[channel === "sms" ? "email" : "sms"]!.status).toBe("sent");
      expect(providers.sms.length + providers.emails.length).toBe(1);
    },
  );

  it("a malformed notification setting holds both channels and never dead-letters the jobs", async () => {
    const event = shippedFor(await createPatient());
    const jobs = await applyAndCaptureJobs([event]);
    const result = await runSender(jobs, { workerEnv: providerEnv({ SMS_SEND_WINDOW: "21:00-08:00" }), attempts: 10 });
    expect(result.explicitAcks).toHaveLength(2);
    const notifications = await notificationsOf(event.event_id);
    for (const channel of ["sms", "email"])
      expect(notifications[channel]).toMatchObject({
        status: "held",
        error: expect.stringMatching(/^SMS_SEND_WINDOW /),
      });
  });

  it("held notifications are counted by status and reason in /admin/stats", async () => {
    const event = shippedFor(await createPatient());
    await runSender(await applyAndCaptureJobs([event]), { workerEnv: envWith({ EMAIL_PROVIDER: "pigeon" }) });
    const { body } = await adminJson<{
      notifications: { by_status: Record<string, number>; held_by_reason: Record<string, number> };
    }>("/stats");
    expect(body.notifications.by_status.held).toBeGreaterThanOrEqual(1);
    expect(body.notifications.held_by_reason["EMAIL_PROVIDER must be one of resend, log"]).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(body)).not.toContain("pigeon");
  });
});

describe("a notification setting never stops state updates", () => {
  it("malformed NOTIFICATION_RULES: the event is processed, its notifications held, then released by replay", async () => {
    const patientId = await createPatient();
    const shipped = shippedFor(patientId);
    const created = makeEvent("order:created", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
    const sendBatch = vi.spyOn(env.NOTIFICATIONS, "sendBatch");
    await runBatch(
      EVENTS_QUEUE,
      [eventMessage(shipped), eventMessage(created)],
      envWith({ NOTIFICATION_RULES: "order:shipped=pager" }),
    );
    expect(sendBatch).not.toHaveBeenCalled();
    sendBatch.mockRestore();
    for (const event of [shipped, created]) {
      expect((await eventRow(event.event_id)).status).toBe("processed");
      const notifications = await notificationsOf(event.event_id);
      expect(Object.values(notifications).map((notification) => [notification.status, notification.error])).toEqual([
        ["held", "NOTIFICATION_RULES names a channel other than sms or email"],
        ["held", "NOTIFICATION_RULES names a channel other than sms or email"],
      ]);
    }

    // The rules are fixed (the test env has the defaults): replay releases them to the sender.
    const released = await replay({ status: "held", limit: 1000 });
    expect(released.status).toBe(202);
    expect(released.body.replayed).toBeGreaterThanOrEqual(4);
    const ours = released.jobs.filter((job) => [shipped.event_id, created.event_id].includes(job.event_id));
    expect(ours).toHaveLength(4);
    await runSender(ours, { workerEnv: envWith({}) });
    const shippedAfter = await notificationsOf(shipped.event_id);
    expect(shippedAfter.sms).toMatchObject({ status: "sent", provider: "log", error: null });
    expect(shippedAfter.email).toMatchObject({ status: "sent", provider: "log" });
    // The default rules do not notify on order:created: what was held for it is not wanted.
    const createdAfter = await notificationsOf(created.event_id);
    expect(createdAfter.sms).toMatchObject({ status: "suppressed", error: "not wanted" });
    expect((await replay({ status: "held" })).body.replayed).toBe(0);
  });

  it("replays failed notifications too, and rejects any other status or limit", async () => {
    const event = shippedFor(await createPatient());
    await applyAndCaptureJobs([event]);
    await env.DB.prepare(`UPDATE notifications SET status = 'failed', error = 'retries exhausted' WHERE event_id = ?1`)
      .bind(event.event_id)
      .run();
    const released = await replay({ status: "failed", limit: 1000 });
    expect(released.jobs.filter((job) => job.event_id === event.event_id)).toHaveLength(2);
    expect((await notificationsOf(event.event_id)).sms).toMatchObject({ status: "pending", error: null });
    for (const body of [{ status: "sent" }, { status: "held", limit: 0 }, { status: "held", limit: 1001 }, {}]) {
      const rejected = await replay(body);
      expect(rejected.status).toBe(400);
      expect(rejected.body).toMatchObject({ error: { code: "invalid_body" } });
    }
  });
});

describe("GET /admin/health", () => {
  it("reports each configuration problem by variable name, never a value", async () => {
    const broken = envWith({
      SMS_PROVIDER: "twilio",
      TWILIO_ACCOUNT_SID: "AC-canary-value",
      EMAIL_PROVIDER: undefined,
      SMS_SEND_WINDOW: "canary-window",
    });
    const response = await worker.fetch(
      new Request("https://receiver.test/admin/health", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
      broken,
    );
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      status: "misconfigured",
      problems: [
        { variable: "SMS_SEND_WINDOW", problem: "must look like 08:00-21:00 with the start before the end" },
        { variable: "TWILIO_AUTH_TOKEN", problem: "is not set although SMS_PROVIDER is twilio" },
        { variable: "EMAIL_PROVIDER", problem: "is not set (resend or log)" },
      ],
    });
    expect(text).not.toContain("canary");
  });

  it("is ok for the test configuration, and needs the admin token", async () => {
    expect(configProblems(env)).toEqual([]);
    expect(await adminJson("/health")).toEqual({ status: 200, body: { status: "ok", problems: [] } });
    expect((await adminFetch("/health", {}, null)).status).toBe(401);
  });
});
