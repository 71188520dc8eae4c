import { env } from "cloudflare:workers";
import { HttpResponse, http } from "msw";
import { describe, expect, it, vi } from "vitest";
import { NOTIFICATION_OUTBOX } from "../../src/db/notification-outbox";
import { consumeNotifications } from "../../src/queue/notifications-consumer";
import type { SendJob } from "../../src/queue/send-job";
import { adminFetch } from "../helpers/admin";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import {
  applyAndCaptureJobs,
  createPatient,
  DAYTIME,
  mockProviders,
  NOTIFICATIONS_QUEUE,
  notificationsOf,
  postTwilio,
  providerEnv,
  runSender,
} from "../helpers/notifications";
import { runBatch } from "../helpers/queue";
import { WAIT } from "../helpers/wait";

const server = useMockNetwork();

async function smsJobFor(patientId: string) {
  const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
  const jobs = (await applyAndCaptureJobs([event])).filter((job) => job.channel === "sms");
  const notificationId = (await notificationsOf(event.event_id)).sms!.notification_id;
  return { event, jobs, notificationId };
}

/** Posts a Twilio status callback to the URL the sender gave Twilio (with our notification id). */
async function statusCallback(notificationId: string | null, params: Record<string, string>) {
  const response = await postTwilio(`status${notificationId ? `?notification_id=${notificationId}` : ""}`, params);
  expect(response.status).toBe(204);
}

const statusOf = async (eventId: string) => (await notificationsOf(eventId)).sms;

/** A send job's SMS row as D1 holds it: status, the provider's id it records, its send mark. */
const smsRowOf = (job: SendJob) =>
  env.DB.prepare(
    `SELECT notification_id, status, provider_message_id AS sid, send_started_at FROM notifications
     WHERE event_id = ?1 AND channel = 'sms'`,
  )
    .bind(job.event_id)
    .first<{ notification_id: string; status: string; sid: string | null; send_started_at: string | null }>();

describe("the duplicate-SMS window", () => {
  it("a lost answer is an unknown outcome: the retry finds the message in Twilio and sends nothing", async () => {
    const providers = mockProviders(server, { loseAnswers: 1 });
    const { event, jobs } = await smsJobFor(await createPatient());
    const first = await runSender(jobs);
    expect(first.retryMessages).toHaveLength(1);
    expect(await statusOf(event.event_id)).toMatchObject({ status: "pending", error: "network error" });
    const second = await runSender(jobs, { now: DAYTIME + 30_000, attempts: 2 });
    expect(second.explicitAcks).toHaveLength(1);
    expect(providers.sms).toHaveLength(1);
    expect(providers.lookups).toHaveLength(1);
    const row = await env.DB.prepare(
      `SELECT status, provider_message_id, send_started_at FROM notifications WHERE event_id = ?1 AND channel = 'sms'`,
    )
      .bind(event.event_id)
      .first<{ status: string; provider_message_id: string; send_started_at: string | null }>();
    expect(row).toMatchObject({ status: "sent", send_started_at: null });
    expect(row!.provider_message_id).toMatch(/^SM/);
  });

  it("after a lost answer the lookup uses the first attempt's stored text and number, not today's rendering", async () => {
    const providers = mockProviders(server, { loseAnswers: 1 });
    const patientId = await createPatient({ phone: "+14155550411" });
    const { event, jobs } = await smsJobFor(patientId);
    await runSender(jobs);
    // Before the retry the clinic is renamed and the patient's number changes.
    const moved = await adminFetch(`/patients/${patientId}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        phone: "+14155550412",
        email: `${patientId}@example.org`,
        timezone: "America/New_York",
        sms_opt_in: true,
        email_opt_in: true,
      }),
    });
    expect(moved.status).toBe(200);
    await runSender(jobs, {
      now: DAYTIME + 30_000,
      attempts: 2,
      workerEnv: providerEnv({ CLINIC_NAME: "Sunset Family Clinic" }),
    });
    expect(providers.lookups.map((query) => query.get("To"))).toEqual(["+14155550411"]);
    expect(providers.sms).toHaveLength(1);
    expect(await statusOf(event.event_id)).toMatchObject({ status: "sent" });
  });

  it("after a lost email answer the retry repeats the stored email, so Resend's key matches and nothing is sent twice", async () => {
    const providers = mockProviders(server, { loseEmailAnswers: 1 });
    const event = makeEvent("order:shipped", {
      data: { order_id: uniqueId("ord"), patient_id: await createPatient() },
    });
    const jobs = (await applyAndCaptureJobs([event])).filter((job) => job.channel === "email");
    const first = await runSender(jobs);
    expect(first.retryMessages).toHaveLength(1);
    await runSender(jobs, {
      now: DAYTIME + 30_000,
      attempts: 2,
      workerEnv: providerEnv({ CLINIC_NAME: "Sunset Family Clinic" }),
    });
    expect(providers.emails).toHaveLength(2);
    expect(providers.emails[1]!.body).toEqual(providers.emails[0]!.body);
    const email = (await notificationsOf(event.event_id)).email!;
    expect(email.status).toBe("sent");
    const stored = await env.DB.prepare(`SELECT provider_message_id FROM notifications WHERE notification_id = ?1`)
      .bind(email.notification_id)
      .first<{ provider_message_id: string }>();
    expect(stored!.provider_message_id).toBe(providers.emailIdsByKey().get(email.notification_id));
  });

  it("a message accepted with its answer lost is recorded sent even if the order was delivered before the retry", async () => {
    const providers = mockProviders(server, { loseAnswers: 1, loseEmailAnswers: 1 });
    const patientId = await createPatient();
    const data = { order_id: uniqueId("ord"), patient_id: patientId };
    const shipped = makeEvent("order:shipped", { timestamp: "2026-01-15T12:00:00Z", data });
    const jobs = await applyAndCaptureJobs([shipped]);
    await runSender(jobs);
    await applyAndCaptureJobs([makeEvent("order:delivered", { timestamp: "2026-01-15T13:00:00Z", data })]);
    await runSender(jobs, { now: DAYTIME + 30_000, attempts: 2 });
    // Twilio's list has the SMS; Resend answers the repeated request with the first email's id.
    expect(providers.sms).toHaveLength(1);
    expect(providers.lookups).toHaveLength(1);
    expect(providers.uniqueEmailKeys()).toBe(1);
    expect(providers.emailIdsByKey().size).toBe(1);
    expect(await notificationsOf(shipped.event_id)).toMatchObject({
      sms: { status: "sent" },
      email: { status: "sent" },
    });
  });

  it("a lost answer, then a broken setting (held), then a replay: the SMS is looked up, not sent again", async () => {
    const providers = mockProviders(server, { loseAnswers: 1 });
    const { event, jobs } = await smsJobFor(await createPatient());
    await runSender(jobs);
    await runSender(jobs, { now: DAYTIME + 30_000, attempts: 2, workerEnv: providerEnv({ SMS_PROVIDER: "" }) });
    expect(await statusOf(event.event_id)).toMatchObject({ status: "held" });
    const replay = await adminFetch("/notifications/replay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ status: "held", limit: 1000 }),
    });
    expect(replay.status).toBe(202);
    await runSender(jobs, { now: DAYTIME + 60_000, attempts: 1 });
    expect(providers.lookups).toHaveLength(1);
    expect(providers.sms).toHaveLength(1);
    expect(await statusOf(event.event_id)).toMatchObject({ status: "sent" });
  });

  it("the lookup takes its own message, not another notification's identical text to the same number", async () => {
    const providers = mockProviders(server, { loseAnswers: 1 });
    const patientId = await createPatient();
    // An unnamed carrier: both orders' shipping texts are word for word the same.
    const plain = { patient_id: patientId, carrier: "Acme Freight", tracking_number: "ACME-1" };
    const lost = makeEvent("order:shipped", { data: { ...plain, order_id: uniqueId("ord") } });
    const other = makeEvent("order:shipped", { data: { ...plain, order_id: uniqueId("ord") } });
    const lostJobs = (await applyAndCaptureJobs([lost])).filter((job) => job.channel === "sms");
    await runSender(lostJobs);
    await runSender((await applyAndCaptureJobs([other])).filter((job) => job.channel === "sms"));
    await runSender(lostJobs, { now: DAYTIME + 30_000, attempts: 2 });
    expect(providers.sms).toHaveLength(2);
    expect(providers.sms[0]!.body).toBe(providers.sms[1]!.body);
    const sids = await env.DB.prepare(
      `SELECT provider_message_id AS sid FROM notifications WHERE event_id IN (?1, ?2) AND channel = 'sms'`,
    )
      .bind(lost.event_id, other.event_id)
      .all<{ sid: string }>();
    expect(new Set(sids.results.map(({ sid }) => sid)).size).toBe(2);
  });

  it("the lookup never takes a message another notification already records, even the earliest match", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const plain = { patient_id: patientId, carrier: "Acme Freight", tracking_number: "ACME-1" };
    const other = makeEvent("order:shipped", { data: { ...plain, order_id: uniqueId("ord") } });
    const lost = makeEvent("order:shipped", { data: { ...plain, order_id: uniqueId("ord") } });
    // The other order's identical text is sent and recorded first, within the lookup's window.
    await runSender((await applyAndCaptureJobs([other])).filter((job) => job.channel === "sms"));
    const lostJobs = (await applyAndCaptureJobs([lost])).filter((job) => job.channel === "sms");
    providers.loseNextAnswers(1);
    await runSender(lostJobs);
    await runSender(lostJobs, { now: DAYTIME + 30_000, attempts: 2 });
    expect(providers.lookups).toHaveLength(1);
    expect(providers.sms).toHaveLength(2);
    const sids = await env.DB.prepare(
      `SELECT provider_message_id AS sid FROM notifications WHERE event_id IN (?1, ?2) AND channel = 'sms'`,
    )
      .bind(lost.event_id, other.event_id)
      .all<{ sid: string }>();
    expect(new Set(sids.results.map(({ sid }) => sid)).size).toBe(2);
  });

  it("two senders settling identical texts at the same time each adopt a message of their own", async () => {
    const providers = mockProviders(server, { loseAnswers: 2 });
    const patientId = await createPatient();
    const plain = { patient_id: patientId, carrier: "Acme Freight", tracking_number: "ACME-1" };
    const events = [1, 2].map(() => makeEvent("order:shipped", { data: { ...plain, order_id: uniqueId("ord") } }));
    const jobs = (await applyAndCaptureJobs(events)).filter((job) => job.channel === "sms");
    // One run sends both word-for-word identical texts; Twilio creates both and both answers are lost.
    await runSender(jobs);
    expect(providers.sms).toHaveLength(2);
    expect(providers.sms[0]!.body).toBe(providers.sms[1]!.body);
    // Each job's retry runs in a sender of its own, at the same time (two queue invocations): both
    // look up, both find the two messages, and neither has read the other's adoption. Not through
    // runSender, whose spy on the queue's sendBatch two runs at once would share (neither delays a job).
    const retryAlone = (job: SendJob) =>
      runBatch(
        NOTIFICATIONS_QUEUE,
        [{ id: uniqueId("job"), timestamp: new Date(), attempts: 2, body: job }],
        { ...providerEnv(), NOTIFICATIONS: env.NOTIFICATIONS },
        (batch, batchEnv) => consumeNotifications(batch, batchEnv, { now: () => DAYTIME + 30_000 }),
      );
    await Promise.all(jobs.map(retryAlone));
    const statuses = await env.DB.prepare(
      `SELECT status FROM notifications WHERE event_id IN (?1, ?2) AND channel = 'sms' ORDER BY status`,
    )
      .bind(events[0]!.event_id, events[1]!.event_id)
      .all<{ status: string }>();
    // The race happened: one adopted a message, the other's adoption of the same one changed nothing.
    expect(statuses.results.map(({ status }) => status)).toEqual(["pending", "sent"]);
    // The loser's retry finds the first's message taken and adopts the other.
    await runSender(jobs, { now: DAYTIME + 120_000, attempts: 3 });
    expect(providers.sms).toHaveLength(2);
    const sids = await env.DB.prepare(
      `SELECT provider_message_id AS sid FROM notifications WHERE event_id IN (?1, ?2) AND channel = 'sms'`,
    )
      .bind(events[0]!.event_id, events[1]!.event_id)
      .all<{ sid: string }>();
    expect(sids.results.map(({ sid }) => sid).sort()).toEqual(providers.created.map(({ sid }) => sid).sort());
  });

  it("a message adopted by another notification before its sender recorded it goes back to its own", async () => {
    const patientId = await createPatient();
    const plain = { patient_id: patientId, carrier: "Acme Freight", tracking_number: "ACME-1" };
    const events = [1, 2].map(() => makeEvent("order:shipped", { data: { ...plain, order_id: uniqueId("ord") } }));
    const jobs = (await applyAndCaptureJobs(events)).filter((job) => job.channel === "sms");
    const [own, other] = jobs as [SendJob, SendJob];
    // The other notification's first attempt never reached Twilio: its outcome is unknown.
    server.use(
      http.post("https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json", () => HttpResponse.error(), {
        once: true,
      }),
    );
    await runSender([other]);
    expect(await smsRowOf(other)).toMatchObject({ status: "pending", sid: null });
    // While Twilio answers our call (the message created, our answer not yet recorded), the other's
    // retry looks its text up, finds our word-for-word identical message, and adopts it.
    let raced = false;
    const providers = mockProviders(server, {
      whileSending: async () => {
        if (raced) return;
        raced = true;
        await runBatch(
          NOTIFICATIONS_QUEUE,
          [{ id: uniqueId("job"), timestamp: new Date(), attempts: 2, body: other }],
          { ...providerEnv(), NOTIFICATIONS: env.NOTIFICATIONS },
          (batch, batchEnv) => consumeNotifications(batch, batchEnv, { now: () => DAYTIME + 30_000 }),
        );
        expect(await smsRowOf(other)).toMatchObject({ status: "sent", sid: providers.created[0]!.sid });
      },
    });
    await runSender([own], { now: DAYTIME + 29_000 });
    expect(raced).toBe(true);
    // Our record of the message takes it back: the other row waits to look again, from its first attempt.
    expect(await smsRowOf(own)).toMatchObject({ status: "sent", sid: providers.created[0]!.sid });
    const reopened = await smsRowOf(other);
    expect(reopened).toMatchObject({ status: "pending", sid: null });
    expect(reopened!.send_started_at).not.toBeNull();
    // The sweep enqueues it again once it has been quiet for 5 minutes (its clock is the sender's).
    const sweep = (at: number) =>
      NOTIFICATION_OUTBOX.takeStale(env.DB, new Date(at - 300_000).toISOString(), new Date(at).toISOString(), 100);
    expect(await sweep(DAYTIME + 60_000)).not.toContainEqual({ event_id: other.event_id, channel: "sms" });
    expect(await sweep(DAYTIME + 360_000)).toContainEqual({ event_id: other.event_id, channel: "sms" });
    // Its retry finds our message recorded and nothing else: its text never reached Twilio, so it is sent now.
    await runSender([other], { now: DAYTIME + 400_000, attempts: 3 });
    expect(providers.sms).toHaveLength(2);
    const sids = [(await smsRowOf(own))!.sid, (await smsRowOf(other))!.sid].sort();
    expect(sids).toEqual(providers.created.map(({ sid }) => sid).sort());
    expect((await smsRowOf(other))!.status).toBe("sent");
  });

  it("Twilio's report of a message as ours sends a notification that adopted it to look again", async () => {
    const patientId = await createPatient();
    const plain = { patient_id: patientId, carrier: "Acme Freight", tracking_number: "ACME-1" };
    const events = [1, 2].map(() => makeEvent("order:shipped", { data: { ...plain, order_id: uniqueId("ord") } }));
    const [own, other] = (await applyAndCaptureJobs(events)).filter((job) => job.channel === "sms") as [
      SendJob,
      SendJob,
    ];
    // The other's first attempt never reached Twilio; ours did, and its answer was lost.
    server.use(
      http.post("https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json", () => HttpResponse.error(), {
        once: true,
      }),
    );
    await runSender([other]);
    const providers = mockProviders(server, { loseAnswers: 1 });
    await runSender([own], { now: DAYTIME + 10_000 });
    // The other's retry finds our message, which no row records yet, and adopts it.
    await runSender([other], { now: DAYTIME + 30_000, attempts: 2 });
    const sid = providers.created[0]!.sid;
    expect(await smsRowOf(other)).toMatchObject({ status: "sent", sid });
    // Twilio's callback for our message (its URL carries our id) records it as ours; the other looks again.
    await statusCallback((await smsRowOf(own))!.notification_id, { MessageSid: sid, MessageStatus: "delivered" });
    expect(await smsRowOf(own)).toMatchObject({ status: "delivered", sid });
    expect(await smsRowOf(other)).toMatchObject({ status: "pending", sid: null });
    // A report naming a message its row does not record sends nobody back (the other is sent now).
    await runSender([other], { now: DAYTIME + 400_000, attempts: 3 });
    const otherSid = (await smsRowOf(other))!.sid!;
    await statusCallback((await smsRowOf(own))!.notification_id, { MessageSid: otherSid, MessageStatus: "delivered" });
    expect(await smsRowOf(other)).toMatchObject({ status: "sent", sid: otherSid });
    expect(providers.sms).toHaveLength(2);
  });

  it("the lookup takes only a message created since the first attempt began, not an earlier identical text", async () => {
    const phone = "+14155550477";
    const patientId = await createPatient({ phone });
    const plain = { patient_id: patientId, carrier: "Acme Freight", tracking_number: "ACME-1" };
    const [own, earlier] = [1, 2].map(() =>
      makeEvent("order:shipped", { data: { ...plain, order_id: uniqueId("ord") } }),
    ) as [ReturnType<typeof makeEvent>, ReturnType<typeof makeEvent>];
    const [ownJob, earlierJob] = (await applyAndCaptureJobs([own, earlier])).filter((job) => job.channel === "sms");
    // Twilio's clock is the sender's. An hour earlier the same day, the word-for-word identical text
    // went out for another order; its row is gone since (here: deleted), so no row records it.
    let twilioNow = DAYTIME - 3_600_000;
    const providers = mockProviders(server, { now: () => twilioNow });
    await runSender([earlierJob!], { now: twilioNow });
    await env.DB.prepare(`DELETE FROM notifications WHERE event_id = ?1`).bind(earlier.event_id).run();
    // Our first attempt, an hour later, never reaches Twilio: its outcome is unknown.
    twilioNow = DAYTIME;
    server.use(
      http.post("https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json", () => HttpResponse.error(), {
        once: true,
      }),
    );
    await runSender([ownJob!]);
    // The retry finds the earlier text, created before our attempt began: not ours, so ours is sent.
    twilioNow = DAYTIME + 30_000;
    await runSender([ownJob!], { now: DAYTIME + 30_000, attempts: 2 });
    expect(providers.lookups).toHaveLength(1);
    expect(providers.sms).toHaveLength(2);
    expect(providers.sms[0]!.body).toBe(providers.sms[1]!.body);
    expect(await statusOf(own.event_id)).toMatchObject({ status: "sent" });
    const recorded = await env.DB.prepare(
      `SELECT provider_message_id AS sid FROM notifications WHERE event_id = ?1 AND channel = 'sms'`,
    )
      .bind(own.event_id)
      .first<{ sid: string }>();
    expect(recorded!.sid).toBe(providers.created[1]!.sid);
  });

  it("a request that never reached Twilio is not found, so the retry sends it once", async () => {
    const providers = mockProviders(server);
    const { event, jobs } = await smsJobFor(await createPatient());
    server.use(
      http.post("https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json", () => HttpResponse.error(), {
        once: true,
      }),
    );
    await runSender(jobs);
    await runSender(jobs, { now: DAYTIME + 30_000, attempts: 2 });
    expect(providers.lookups).toHaveLength(1);
    expect(providers.sms).toHaveLength(1);
    expect((await statusOf(event.event_id))!.status).toBe("sent");
  });

  it("a failed lookup sends nothing and retries", async () => {
    const providers = mockProviders(server, { loseAnswers: 1 });
    const { event, jobs } = await smsJobFor(await createPatient());
    await runSender(jobs);
    server.use(
      http.get("https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json", () =>
        HttpResponse.json({ code: 20500, message: "Internal Server Error", status: 500 }, { status: 500 }),
      ),
    );
    const second = await runSender(jobs, { now: DAYTIME + 30_000, attempts: 2 });
    expect(second.retryMessages).toHaveLength(1);
    expect(providers.sms).toHaveLength(1);
    expect(await statusOf(event.event_id)).toMatchObject({ status: "pending", error: "twilio lookup 500" });
  });

  it("each outcome is recorded as soon as its call returns, not after the slowest call of the batch", async () => {
    const fast = await smsJobFor(await createPatient({ phone: "+14155550401" }));
    const slow = await smsJobFor(await createPatient({ phone: "+14155550402" }));
    const providers = mockProviders(server, {
      // Twilio answers the slow number only once the fast number's outcome is in D1.
      whileSending: async (form) => {
        if (form.get("To") === "+14155550402")
          await vi.waitFor(async () => expect((await statusOf(fast.event.event_id))?.status).toBe("sent"), WAIT);
      },
    });
    const result = await runSender([...slow.jobs, ...fast.jobs]);
    expect(result.explicitAcks).toHaveLength(2);
    expect(providers.sms).toHaveLength(2);
    expect((await statusOf(slow.event.event_id))!.status).toBe("sent");
  });

  it("a sender whose lease was taken over while Twilio answered never acks the job as sent", async () => {
    const { event, jobs, notificationId } = await smsJobFor(await createPatient());
    const providers = mockProviders(server, {
      whileSending: async () => {
        // Another sender takes the row over (our lease ran out) before our answer is recorded.
        await env.DB.prepare(`UPDATE notifications SET lease_token = 'another-sender' WHERE notification_id = ?1`)
          .bind(notificationId)
          .run();
      },
    });
    const result = await runSender(jobs);
    expect(result.explicitAcks).toHaveLength(0);
    expect(result.retryMessages).toHaveLength(1);
    expect(providers.sms).toHaveLength(1);
    // The row still says an attempt's outcome is unknown: whoever holds it looks it up first.
    const row = await env.DB.prepare(`SELECT status, send_started_at FROM notifications WHERE notification_id = ?1`)
      .bind(notificationId)
      .first<{ status: string; send_started_at: string | null }>();
    expect(row!.status).toBe("pending");
    expect(row!.send_started_at).not.toBeNull();
    await env.DB.prepare(
      `UPDATE notifications SET lease_token = NULL, lease_expires_at = NULL WHERE notification_id = ?1`,
    )
      .bind(notificationId)
      .run();
    await runSender(jobs, { now: DAYTIME + 61_000, attempts: 2 });
    expect(providers.sms).toHaveLength(1);
    expect((await statusOf(event.event_id))!.status).toBe("sent");
  });

  it("a delivery report that arrives before the outcome is recorded is matched by notification id and kept", async () => {
    const { event, jobs, notificationId } = await smsJobFor(await createPatient());
    mockProviders(server, {
      whileSending: async () => {
        await statusCallback(notificationId, {
          MessageSid: "SMearly0000000000000000000000001",
          MessageStatus: "delivered",
        });
      },
    });
    const result = await runSender(jobs);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await statusOf(event.event_id)).toMatchObject({ status: "delivered", provider: "twilio" });
  });
});

describe("delivery statuses only move forward", () => {
  async function sent() {
    const providers = mockProviders(server);
    const { event, jobs, notificationId } = await smsJobFor(await createPatient());
    await runSender(jobs);
    const sid = await env.DB.prepare(`SELECT provider_message_id AS sid FROM notifications WHERE notification_id = ?1`)
      .bind(notificationId)
      .first<{ sid: string }>();
    return { event, notificationId, sid: sid!.sid, providers };
  }

  it.each([
    [["delivered", "sent"], "delivered"],
    [["undelivered", "delivered"], "failed"],
    [["delivered", "undelivered"], "delivered"],
    [["delivered", "failed"], "delivered"],
    [["sent", "delivered"], "delivered"],
  ])("%j ends %s: the first final report wins, a late sent changes nothing", async (reports, expected) => {
    const { event, notificationId, sid } = await sent();
    for (const report of reports) await statusCallback(notificationId, { MessageSid: sid, MessageStatus: report });
    expect((await statusOf(event.event_id))!.status).toBe(expected);
  });

  it("a report without our id (an older message) is still matched by its SID", async () => {
    const { event, sid } = await sent();
    await statusCallback(null, { MessageSid: sid, MessageStatus: "delivered" });
    expect((await statusOf(event.event_id))!.status).toBe("delivered");
  });

  it("a report for another message's SID under our id changes nothing", async () => {
    const { event, notificationId } = await sent();
    await statusCallback(notificationId, { MessageSid: "SMsomeoneelse00000000000000000001", MessageStatus: "failed" });
    expect((await statusOf(event.event_id))!.status).toBe("sent");
  });
});
