import { env } from "cloudflare:workers";
import { HttpResponse, http } from "msw";
import { describe, expect, it, vi } from "vitest";
import { type SenderRun, sendNotifications } from "../../src/notify/sender";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import {
  applyAndCaptureJobs,
  createPatient,
  DAYTIME,
  mockProviders,
  NOTIFICATIONS_DLQ,
  notificationsOf,
  PROVIDER_ENV,
  providerEnv,
  runSender,
  twilioError,
} from "../helpers/notifications";
import { runBatch, withBatchHook } from "../helpers/queue";
import { WAIT } from "../helpers/wait";

const server = useMockNetwork();

/**
 * D1 that answers a sender's read (no batch), its context load and its send marks, then fails every
 * outcome write: the provider was called, its answer is not recorded.
 */
function failingOutcomeWrites(): D1Database {
  return withBatchHook(env.DB, (batch) => {
    if (batch >= 3) throw new Error("D1_ERROR: network connection lost");
  });
}

function shippedFor(patientId: string, data: Record<string, unknown> = {}) {
  return makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId, ...data } });
}

describe("sender: providers", () => {
  it("sends the shipped SMS through Twilio and the email through Resend with their documented request shapes", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient({ phone: "+14155550123", email: "pat@example.org" });
    const event = shippedFor(patientId);
    const jobs = await applyAndCaptureJobs([event]);
    expect(jobs).toEqual([
      { event_id: event.event_id, channel: "sms" },
      { event_id: event.event_id, channel: "email" },
    ]);
    const result = await runSender(jobs);
    expect(result.explicitAcks).toHaveLength(2);

    expect(providers.sms).toHaveLength(1);
    const [sms] = providers.sms;
    expect(sms!.authorization).toBe(
      `Basic ${btoa(`${PROVIDER_ENV.TWILIO_ACCOUNT_SID}:${PROVIDER_ENV.TWILIO_AUTH_TOKEN}`)}`,
    );
    expect(sms!.to).toBe("+14155550123");
    expect(sms!.form.get("MessagingServiceSid")).toBe(PROVIDER_ENV.TWILIO_MESSAGING_SERVICE_SID);
    const smsId = (await notificationsOf(event.event_id)).sms!.notification_id;
    // The callback carries our notification id, so an early delivery report still finds its row.
    expect(sms!.form.get("StatusCallback")).toBe(
      `https://receiver.test/webhooks/twilio/status?notification_id=${smsId}`,
    );
    expect(sms!.body).toBe(
      "Sunrise Clinic: your order has shipped via UPS. Track: https://www.ups.com/track?tracknum=1Z999AA10123456784 Reply STOP to opt out.",
    );

    expect(providers.emails).toHaveLength(1);
    const [email] = providers.emails;
    expect(email!.authorization).toBe(`Bearer ${PROVIDER_ENV.RESEND_API_KEY}`);
    expect(email!.body).toMatchObject({
      from: PROVIDER_ENV.EMAIL_FROM,
      to: ["pat@example.org"],
      subject: "Sunrise Clinic: your order has shipped",
    });
    expect(email!.body.html).toContain("https://www.ups.com/track?tracknum=1Z999AA10123456784");

    const notifications = await notificationsOf(event.event_id);
    expect(notifications.sms).toMatchObject({ status: "sent", provider: "twilio", attempts: 1 });
    expect(notifications.email).toMatchObject({ status: "sent", provider: "resend", attempts: 1 });
    expect(email!.key).toBe(notifications.email!.notification_id);
  });

  it("uses From when no messaging service is configured", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const jobs = await applyAndCaptureJobs([shippedFor(patientId)]);
    await runSender(
      jobs.filter((job) => job.channel === "sms"),
      { workerEnv: providerEnv({ TWILIO_MESSAGING_SERVICE_SID: "", TWILIO_FROM_NUMBER: "+14155550999" }) },
    );
    expect(providers.sms[0]!.form.get("From")).toBe("+14155550999");
    expect(providers.sms[0]!.form.has("MessagingServiceSid")).toBe(false);
  });

  it("without credentials uses the log provider: rendered, recorded, sent, and nothing leaves the machine", async () => {
    const patientId = await createPatient();
    const event = shippedFor(patientId);
    const jobs = await applyAndCaptureJobs([event]);
    // onUnhandledRequest "error": any network call would fail this test.
    const result = await runSender(jobs, { workerEnv: env });
    expect(result.explicitAcks).toHaveLength(2);
    const notifications = await notificationsOf(event.event_id);
    expect(notifications.sms).toMatchObject({ status: "sent", provider: "log" });
    expect(notifications.email).toMatchObject({ status: "sent", provider: "log" });
    const rendered = await env.DB.prepare(`SELECT rendered FROM notifications WHERE event_id = ?1 AND channel = 'sms'`)
      .bind(event.event_id)
      .first<{ rendered: string }>();
    expect(JSON.parse(rendered!.rendered).text).toContain("your order has shipped");
  });
});

describe("sender: outcomes", () => {
  it("retries after a 5xx with backoff, then sends", async () => {
    const patientId = await createPatient();
    const event = shippedFor(patientId);
    const jobs = (await applyAndCaptureJobs([event])).filter((job) => job.channel === "sms");
    const providers = mockProviders(server);
    // Handlers added later take precedence: the first call gets a 503, the next one Twilio's 201.
    server.use(
      http.post(
        "https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json",
        () => twilioError(503, 20500, "Internal Server Error"),
        { once: true },
      ),
    );
    const first = await runSender(jobs);
    expect(first.retryMessages).toHaveLength(1);
    expect(first.retryMessages[0]!.delaySeconds).toBeGreaterThan(0);
    expect((await notificationsOf(event.event_id)).sms).toMatchObject({ status: "pending", attempts: 1 });
    const second = await runSender(jobs, { attempts: 2 });
    expect(second.explicitAcks).toHaveLength(1);
    expect(providers.sms).toHaveLength(1);
    expect((await notificationsOf(event.event_id)).sms).toMatchObject({ status: "sent", attempts: 2 });
  });

  it.each([
    ["429", () => twilioError(429, 20429, "Too Many Requests")],
    ["a network error", () => HttpResponse.error()],
  ])("treats %s as transient", async (_case, reply) => {
    const patientId = await createPatient();
    const jobs = (await applyAndCaptureJobs([shippedFor(patientId)])).filter((job) => job.channel === "sms");
    server.use(http.post("https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json", reply));
    const result = await runSender(jobs);
    expect(result.retryMessages).toHaveLength(1);
  });

  it("marks a permanent 4xx failed with the provider's reason, without the phone number", async () => {
    const patientId = await createPatient({ phone: "+14155550177" });
    const event = shippedFor(patientId);
    const jobs = (await applyAndCaptureJobs([event])).filter((job) => job.channel === "sms");
    server.use(
      http.post("https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json", () =>
        twilioError(400, 21211, "The 'To' number +14155550177 is not a valid phone number."),
      ),
    );
    const result = await runSender(jobs);
    expect(result.explicitAcks).toHaveLength(1);
    const sms = (await notificationsOf(event.event_id)).sms!;
    expect(sms).toMatchObject({ status: "failed", provider: "twilio" });
    expect(sms.error).toContain("twilio 21211");
    expect(sms.error).not.toContain("4155550177");
  });

  it("Twilio 21610 opts the number out and suppresses; later SMS to it are suppressed too", async () => {
    const phone = "+14155550188";
    const patientId = await createPatient({ phone });
    const first = shippedFor(patientId);
    const jobs = (await applyAndCaptureJobs([first])).filter((job) => job.channel === "sms");
    server.use(
      http.post("https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json", () =>
        twilioError(400, 21610, "Attempt to send to unsubscribed recipient"),
      ),
    );
    await runSender(jobs);
    expect((await notificationsOf(first.event_id)).sms).toMatchObject({ status: "suppressed" });
    // Twilio's 21610 is about the sender it came from: the opt-out is kept for that sender.
    const optOut = await env.DB.prepare(`SELECT sender, source FROM sms_sender_opt_outs WHERE phone = ?1`)
      .bind(phone)
      .first();
    expect(optOut).toEqual({ sender: PROVIDER_ENV.TWILIO_MESSAGING_SERVICE_SID, source: "twilio_21610" });

    server.resetHandlers();
    const providers = mockProviders(server);
    const second = makeEvent("order:delivered", { data: { order_id: first.data.order_id, patient_id: patientId } });
    await runSender(await applyAndCaptureJobs([second]));
    expect(providers.sms).toHaveLength(0);
    expect(providers.emails).toHaveLength(1);
    expect((await notificationsOf(second.event_id)).sms).toMatchObject({
      status: "suppressed",
      error: "opted out by STOP",
    });
  });
});

describe("sender: exactly once", () => {
  it("10 concurrent copies of a job send one SMS and one email", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const event = shippedFor(patientId);
    const jobs = await applyAndCaptureJobs([event]);
    await Promise.all(Array.from({ length: 10 }, () => runSender(jobs)));
    await runSender([...jobs, ...jobs, ...jobs]);
    expect(providers.sms).toHaveLength(1);
    expect(providers.emails).toHaveLength(1);
    const notifications = await notificationsOf(event.event_id);
    expect(notifications.sms!.status).toBe("sent");
    expect(notifications.email!.status).toBe("sent");
  });

  it("the provider answered but D1 could not record it: the SMS is found in Twilio, the email deduplicated by its key", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const event = shippedFor(patientId);
    const jobs = await applyAndCaptureJobs([event]);
    const crashed = await runSender(jobs, { workerEnv: { ...providerEnv(), DB: failingOutcomeWrites() } as Env });
    expect(crashed.retryMessages).toHaveLength(2);
    expect(providers.sms).toHaveLength(1);
    // The redelivery comes after the sender's lease ran out: it asks Twilio before sending again.
    const redelivered = await runSender(jobs, { now: DAYTIME + 61_000, attempts: 2 });
    expect(redelivered.explicitAcks).toHaveLength(2);
    expect(providers.sms).toHaveLength(1);
    expect(providers.lookups).toHaveLength(1);
    expect(providers.lookups[0]!.get("To")).toBe(providers.sms[0]!.to);
    expect(providers.lookups[0]!.get("DateSent>")).toBe("2026-01-15");
    expect(providers.emails).toHaveLength(2);
    expect(providers.uniqueEmailKeys()).toBe(1);
    const notifications = await notificationsOf(event.event_id);
    expect(notifications.sms).toMatchObject({ status: "sent", provider: "twilio", attempts: 2 });
    expect(notifications.email).toMatchObject({ status: "sent", attempts: 2 });
  });

  it("a job for a stale event finds no outbox row and sends nothing", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const orderId = uniqueId("ord");
    const delivered = makeEvent("order:delivered", {
      timestamp: "2025-01-18T15:00:00Z",
      data: { order_id: orderId, patient_id: patientId },
    });
    const lateShipped = makeEvent("order:shipped", {
      timestamp: "2025-01-15T10:30:00Z",
      data: { order_id: orderId, patient_id: patientId },
    });
    await applyAndCaptureJobs([delivered]);
    const staleJobs = await applyAndCaptureJobs([lateShipped]);
    expect(await notificationsOf(lateShipped.event_id)).toEqual({});
    const result = await runSender(staleJobs);
    expect(result.explicitAcks).toHaveLength(staleJobs.length);
    expect(providers.sms).toHaveLength(0);
  });

  it("a forced replay of a processed event adds no notification", async () => {
    const patientId = await createPatient();
    const event = shippedFor(patientId);
    await applyAndCaptureJobs([event]);
    const before = await notificationsOf(event.event_id);
    await env.DB.prepare(`UPDATE events SET status = 'queued' WHERE event_id = ?1`).bind(event.event_id).run();
    await applyAndCaptureJobs([event]);
    const after = await notificationsOf(event.event_id);
    expect(after.sms!.notification_id).toBe(before.sms!.notification_id);
    expect(Object.keys(after)).toHaveLength(2);
  });
});

describe("sender: consent and timing", () => {
  it.each([
    ["an unknown patient", null, "unknown patient", "unknown patient"],
    ["no phone or email", { phone: null, email: null }, "no phone number", "no email address"],
    ["no consent", { sms_opt_in: false, email_opt_in: false }, "sms not opted in", "email not opted in"],
  ])(
    "suppresses %s with the reason, and the event is still processed",
    async (_case, fields, smsReason, emailReason) => {
      const providers = mockProviders(server);
      const patientId = fields === null ? uniqueId("pat_unknown") : await createPatient(fields);
      const event = shippedFor(patientId);
      await runSender(await applyAndCaptureJobs([event]));
      const notifications = await notificationsOf(event.event_id);
      expect(notifications.sms).toMatchObject({ status: "suppressed", error: smsReason });
      expect(notifications.email).toMatchObject({ status: "suppressed", error: emailReason });
      expect(providers.sms.length + providers.emails.length).toBe(0);
      const eventView = await env.DB.prepare(`SELECT status FROM events WHERE event_id = ?1`)
        .bind(event.event_id)
        .first();
      expect(eventView).toEqual({ status: "processed" });
    },
  );

  it("holds an SMS outside the window until it opens, in hops; email goes at once", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient({ timezone: "America/Los_Angeles" });
    const event = shippedFor(patientId);
    const jobs = await applyAndCaptureJobs([event]);
    // 03:00 in Los Angeles (11:00Z): the window opens at 08:00 local, 16:00Z.
    const night = Date.parse("2026-01-15T11:00:00Z");
    const result = await runSender(jobs, { now: night });
    expect(result.explicitAcks).toHaveLength(2);
    expect(providers.sms).toHaveLength(0);
    expect(providers.emails).toHaveLength(1);
    expect(result.delayed).toEqual([{ body: { event_id: event.event_id, channel: "sms" }, delaySeconds: 5 * 3600 }]);
    expect((await notificationsOf(event.event_id)).sms).toMatchObject({
      status: "scheduled",
      scheduled_for: "2026-01-15T16:00:00.000Z",
    });

    const opened = await runSender([{ event_id: event.event_id, channel: "sms" }], {
      now: Date.parse("2026-01-15T16:00:00Z"),
    });
    expect(opened.explicitAcks).toHaveLength(1);
    expect(providers.sms).toHaveLength(1);
    expect((await notificationsOf(event.event_id)).sms).toMatchObject({ status: "sent" });
  });

  it("uses the clinic's time zone for a patient without one", async () => {
    const patientId = await createPatient({ timezone: null });
    const jobs = (await applyAndCaptureJobs([shippedFor(patientId)])).filter((job) => job.channel === "sms");
    // 07:30 in New York (the default CLINIC_TIMEZONE), 12:30Z.
    const result = await runSender(jobs, { now: Date.parse("2026-01-15T12:30:00Z") });
    expect(result.delayed[0]!.delaySeconds).toBe(30 * 60);
  });
});

describe("notification dead letters and the sweep", () => {
  it("a dead-lettered job marks its notification failed", async () => {
    const patientId = await createPatient();
    const event = shippedFor(patientId);
    const jobs = await applyAndCaptureJobs([event]);
    const result = await runBatch(
      NOTIFICATIONS_DLQ,
      jobs.map((job) => ({ id: uniqueId("m"), timestamp: new Date(), attempts: 11, body: job })),
    );
    expect(result.explicitAcks).toHaveLength(2);
    expect((await notificationsOf(event.event_id)).sms).toMatchObject({ status: "failed", error: "retries exhausted" });
  });

  const deadLetter = (jobs: { event_id: string; channel: string }[]) =>
    runBatch(
      NOTIFICATIONS_DLQ,
      jobs.map((job) => ({ id: uniqueId("m"), timestamp: new Date(), attempts: 11, body: job })),
    );
  const storedRow = (eventId: string) =>
    env.DB.prepare(`SELECT status, provider_message_id FROM notifications WHERE event_id = ?1 AND channel = 'sms'`)
      .bind(eventId)
      .first<{ status: string; provider_message_id: string | null }>();

  it("a dead letter never overrides a live send lease: the sender's accepted message is recorded sent", async () => {
    const patientId = await createPatient();
    const event = shippedFor(patientId);
    const jobs = (await applyAndCaptureJobs([event])).filter((job) => job.channel === "sms");
    // A second copy of the job runs out of retries while this sender is waiting for Twilio.
    const providers = mockProviders(server, { whileSending: async () => void (await deadLetter(jobs)) });
    const result = await runSender(jobs);
    expect(result.explicitAcks).toHaveLength(1);
    expect(providers.sms).toHaveLength(1);
    const row = await storedRow(event.event_id);
    expect(row!.status).toBe("sent");
    expect(row!.provider_message_id).toMatch(/^SM/);
  });

  it("a dead letter after a lost answer leaves the row pending; the next attempt finds it sent, never failed", async () => {
    const providers = mockProviders(server, { loseAnswers: 1 });
    const patientId = await createPatient();
    const event = shippedFor(patientId);
    const jobs = (await applyAndCaptureJobs([event])).filter((job) => job.channel === "sms");
    await runSender(jobs);
    const dead = await deadLetter(jobs);
    expect(dead.explicitAcks).toHaveLength(1);
    expect((await storedRow(event.event_id))!.status).toBe("pending");
    await runSender(jobs, { now: DAYTIME + 30_000, attempts: 2 });
    expect(providers.sms).toHaveLength(1);
    expect((await storedRow(event.event_id))!.status).toBe("sent");
  });

  it("consumes real queue messages end to end with the log provider", async () => {
    const patientId = await createPatient();
    const event = shippedFor(patientId);
    const jobs = await applyAndCaptureJobs([event]);
    await env.NOTIFICATIONS.sendBatch(jobs.map((body) => ({ body, contentType: "json" })));
    const notifications = await vi.waitFor(async () => {
      const current = await notificationsOf(event.event_id);
      if (!(current.sms?.status === "sent" && current.email?.status === "sent")) throw new Error("not yet");
      return current;
    }, WAIT);
    expect(notifications.sms).toMatchObject({ status: "sent", provider: "log" });
  });
});

describe("sender: rows read, then taken by their first write", () => {
  const queued = (jobs: { event_id: string; channel: "sms" | "email" }[]) => jobs.map((job) => ({ job, attempts: 1 }));

  it("two senders read the same rows: the first to write takes each, the other sends nothing", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const event = shippedFor(patientId);
    const jobs = await applyAndCaptureJobs([event]);
    // Sender A has read the rows; before its first write, sender B reads, sends and records them all.
    let other: SenderRun | undefined;
    const db = withBatchHook(env.DB, async (batch) => {
      if (batch === 1) other = await sendNotifications(providerEnv(), queued(jobs), { now: () => DAYTIME });
    });
    const result = await runSender(jobs, { workerEnv: { ...providerEnv(), DB: db } as Env });
    expect(other?.counts).toMatchObject({ sent: 2, lease_lost: 0 });
    expect(providers.sms).toHaveLength(1);
    expect(providers.emails).toHaveLength(1);
    // A's marks found the rows taken: never acked as sent, retried; the retry finds them final.
    expect(result.retryMessages).toHaveLength(2);
    const retried = await runSender(jobs, { attempts: 2 });
    expect(retried.explicitAcks).toHaveLength(2);
    expect(providers.sms).toHaveLength(1);
    expect(providers.emails).toHaveLength(1);
  });

  it("a row marked by another sender after our read is not sent from that read, even once that lease ran out", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const event = shippedFor(patientId);
    const jobs = await applyAndCaptureJobs([event]);
    // Sender A reads at DAYTIME + 2 min. Before A writes, sender B (at DAYTIME) marks the rows and
    // calls the providers, and its outcome writes fail: B's lease ran out by A's clock, but the rows
    // carry B's unknown outcome, which A's read did not see.
    const db = withBatchHook(env.DB, async (batch) => {
      if (batch === 1)
        await sendNotifications({ ...providerEnv(), DB: failingOutcomeWrites() } as Env, queued(jobs), {
          now: () => DAYTIME,
        });
    });
    const result = await runSender(jobs, { workerEnv: { ...providerEnv(), DB: db } as Env, now: DAYTIME + 120_000 });
    expect(result.retryMessages).toHaveLength(2);
    expect(providers.sms).toHaveLength(1);
    // The retry reads the mark: it asks Twilio first, finds B's message and sends nothing.
    const retried = await runSender(jobs, { now: DAYTIME + 180_000, attempts: 2 });
    expect(retried.explicitAcks).toHaveLength(2);
    expect(providers.sms).toHaveLength(1);
    expect(providers.lookups).toHaveLength(1);
    expect((await notificationsOf(event.event_id)).sms).toMatchObject({ status: "sent", attempts: 2 });
  });
});

describe("sender: lost D1 answers", () => {
  it("send marks whose answer was lost are tried once more at once and keep their rows: they took them", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const event = shippedFor(patientId);
    const jobs = await applyAndCaptureJobs([event]);
    // The context load, then the marks (which take the rows): committed, their answer lost.
    const db = withBatchHook(env.DB, (batch) => (batch === 2 ? "lose-answer" : undefined));
    const result = await runSender(jobs, { workerEnv: { ...providerEnv(), DB: db } as Env });
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(2);
    expect(providers.sms).toHaveLength(1);
    expect(providers.emails).toHaveLength(1);
    // The repeat found the rows under its own lease: one take each, counted once.
    const notifications = await notificationsOf(event.event_id);
    expect(notifications.sms).toMatchObject({ status: "sent", attempts: 1 });
    expect(notifications.email).toMatchObject({ status: "sent", attempts: 1 });
  });

  it("a give-back committed whose answer was lost is retried, not counted as a lease lost", async () => {
    mockProviders(server, { loseAnswers: 1 });
    const patientId = await createPatient();
    const event = shippedFor(patientId);
    const jobs = (await applyAndCaptureJobs([event])).filter((job) => job.channel === "sms");
    await runSender(jobs); // Twilio's answer is lost: the outcome is unknown.
    server.use(
      http.get("https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json", () =>
        HttpResponse.json({ code: 20500, message: "Internal Server Error", status: 500 }, { status: 500 }),
      ),
    );
    // The lookup fails, so the row is given back to wait; that write commits and its answer is lost.
    // Its repeat changes nothing (the give-back cleared our token), which is not another sender's take.
    const db = withBatchHook(env.DB, (batch) => (batch === 2 ? "lose-answer" : undefined));
    const run = await sendNotifications(
      { ...providerEnv(), DB: db } as Env,
      jobs.map((job) => ({ job, attempts: 2 })),
      {
        now: () => DAYTIME + 30_000,
      },
    );
    expect(run.counts).toMatchObject({ retried: 1, lease_lost: 0 });
    expect((await notificationsOf(event.event_id)).sms).toMatchObject({
      status: "pending",
      error: "twilio lookup 500",
    });
  });

  it("a context load that fails once is tried once more", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const jobs = await applyAndCaptureJobs([shippedFor(patientId)]);
    const db = withBatchHook(env.DB, (batch) => {
      if (batch === 1) throw new Error("D1_ERROR: database is busy");
    });
    const result = await runSender(jobs, { workerEnv: { ...providerEnv(), DB: db } as Env });
    expect(result.explicitAcks).toHaveLength(2);
    expect(providers.sms.length + providers.emails.length).toBe(2);
  });
});
