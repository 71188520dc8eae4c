import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { twilioSignature } from "../../src/notify/twilio-signature";
import { adminFetchWith, createClinicPatient, fetchWith, putClinicProfile, twoClinicEnv } from "../helpers/clinics";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { applyAndCaptureJobs, mockProviders, notificationsOf, PROVIDER_ENV, runSender } from "../helpers/notifications";

const server = useMockNetwork();

const SERVICE_A = `MG${"a".repeat(32)}`;
/** Clinic A's profile texting from its own Messaging Service. */
const ALPHA_SMS = { name: "Alpha Clinic", phone: "+14155550111", sms_messaging_service_sid: SERVICE_A };
const NUMBER_B = "+14155550222";

/**
 * Each test gets its own pair of clinic ids (profiles live in D1, shared by the file's tests), both
 * allowed by its own environment.
 */
function clinics(overrides: Record<string, string> = {}) {
  const a = crypto.randomUUID();
  const b = crypto.randomUUID();
  return { a, b, workerEnv: twoClinicEnv({ NOVAMED_CLINIC_IDS: `${a},${b}`, ...overrides }) };
}

function shipped(clinicId: string, patientId: string) {
  return makeEvent("order:shipped", {
    clinic_id: clinicId,
    data: { order_id: uniqueId("ord"), patient_id: patientId },
  });
}

async function postInbound(workerEnv: Env, params: Record<string, string>) {
  const url = "https://receiver.test/webhooks/twilio/inbound";
  const request = new Request(url, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-twilio-signature": await twilioSignature(PROVIDER_ENV.TWILIO_AUTH_TOKEN, url, params),
    },
    body: new URLSearchParams(params),
  });
  return fetchWith(workerEnv, request);
}

describe("clinic profiles: admin API", () => {
  it("lists every allowed clinic with its effective settings and where each came from", async () => {
    const { a, b, workerEnv } = clinics();
    await putClinicProfile(workerEnv, a, {
      name: "Alpha Clinic",
      // The TCPA healthcare-exemption profile: at most 1 text a day, 3 a week.
      sms_daily_cap: 1,
      sms_weekly_cap: 3,
      alert_emails: ["ops@alpha.example"],
    });
    const response = await adminFetchWith(workerEnv, "/clinics");
    expect(response.status).toBe(200);
    const { clinics: listed } = (await response.json()) as {
      clinics: { clinic_id: string; settings: Record<string, unknown>; sources: Record<string, string> }[];
    };
    expect(listed.map((clinic) => clinic.clinic_id)).toEqual([a, b]);
    const [alpha, other] = listed;
    expect(alpha!.settings).toMatchObject({
      name: "Alpha Clinic",
      sms_daily_cap: 1,
      sms_weekly_cap: 3,
      phone: PROVIDER_ENV.CLINIC_PHONE,
      alert_emails: ["ops@alpha.example"],
    });
    expect(alpha!.sources).toMatchObject({
      name: "profile",
      sms_daily_cap: "profile",
      sms_weekly_cap: "profile",
      phone: "default",
      alert_emails: "profile",
    });
    // No profile: every field is the [vars] default.
    expect(other!.settings).toMatchObject({
      name: PROVIDER_ENV.CLINIC_NAME,
      time_zone: "America/New_York",
      sms_send_window: "08:00-21:00",
      sms_daily_cap: 3,
      email_daily_cap: 5,
      sms_weekly_cap: 0,
      sms_messaging_service_sid: PROVIDER_ENV.TWILIO_MESSAGING_SERVICE_SID,
      email_from: PROVIDER_ENV.EMAIL_FROM,
      default_locale: "en",
    });
    expect(new Set(Object.values(other!.sources))).toEqual(new Set(["default"]));
  });

  it("GET and PUT one clinic; an omitted or empty field goes back to the default", async () => {
    const { a, workerEnv } = clinics();
    await putClinicProfile(workerEnv, a, { name: "Alpha Clinic", phone: "+14155550111" });
    const cleared = (await putClinicProfile(workerEnv, a, { name: "", time_zone: "Europe/Madrid" })) as {
      settings: Record<string, unknown>;
      sources: Record<string, string>;
    };
    expect(cleared.settings).toMatchObject({
      name: PROVIDER_ENV.CLINIC_NAME,
      phone: PROVIDER_ENV.CLINIC_PHONE,
      time_zone: "Europe/Madrid",
    });
    expect(cleared.sources).toMatchObject({ name: "default", phone: "default", time_zone: "profile" });
    const read = await adminFetchWith(workerEnv, `/clinics/${a.toUpperCase()}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ clinic_id: a, settings: { time_zone: "Europe/Madrid" } });
  });

  it("refuses invalid fields one by one, without echoing them", async () => {
    const { a, workerEnv } = clinics();
    const response = await adminFetchWith(workerEnv, `/clinics/${a}`, {
      method: "PUT",
      body: JSON.stringify({
        phone: "555-canary",
        time_zone: "Mars/Olympus",
        sms_send_window: "21:00-08:00",
        sms_daily_cap: -1,
        sms_messaging_service_sid: "MGcanary",
        email_reply_to: "not-an-address",
        default_locale: "fr",
        alert_emails: ["ok@example.org", "canary"],
        colour: "blue",
      }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; issues: { path: string }[] } };
    expect(body.error.code).toBe("invalid_clinic_profile");
    expect(body.error.issues.map((issue) => issue.path).sort()).toEqual(
      [
        "alert_emails.1",
        "default_locale",
        "email_reply_to",
        "phone",
        "sms_daily_cap",
        "sms_messaging_service_sid",
        "sms_send_window",
        "time_zone",
        "",
      ].sort(),
    );
    expect(JSON.stringify(body)).not.toMatch(/canary|Olympus|blue/);
  });

  it("answers 404 for a clinic outside NOVAMED_CLINIC_IDS, and writes no profile for it", async () => {
    const { workerEnv } = clinics();
    const stranger = crypto.randomUUID();
    expect((await adminFetchWith(workerEnv, `/clinics/${stranger}`)).status).toBe(404);
    const put = await adminFetchWith(workerEnv, `/clinics/${stranger}`, {
      method: "PUT",
      body: JSON.stringify({ name: "X" }),
    });
    expect(put.status).toBe(404);
    expect(
      await env.DB.prepare(`SELECT 1 FROM clinic_profiles WHERE clinic_id = ?1`).bind(stranger).first(),
    ).toBeNull();
  });

  it("audits a change with the clinic in its own column", async () => {
    const { a, workerEnv } = clinics();
    await putClinicProfile(workerEnv, a, { name: "Alpha Clinic" });
    const row = await env.DB.prepare(
      `SELECT action, target_type, target_id, clinic_id, outcome FROM audit WHERE target_id = ?1`,
    )
      .bind(a)
      .first();
    expect(row).toEqual({
      action: "clinic.update",
      target_type: "clinic",
      target_id: a,
      clinic_id: a,
      outcome: "success",
    });
  });
});

describe("clinic profiles: every patient message speaks for its event's clinic", () => {
  it("names each clinic and sends from its own SMS sender and email identity", async () => {
    const providers = mockProviders(server);
    const { a, b, workerEnv } = clinics();
    await putClinicProfile(workerEnv, a, {
      ...ALPHA_SMS,
      email_from: "Alpha Clinic <care@alpha.example>",
      email_reply_to: "desk@alpha.example",
    });
    await putClinicProfile(workerEnv, b, { name: "Beta Health", phone: "+14155550112", sms_from: NUMBER_B });
    const patientA = await createClinicPatient(workerEnv, a, { phone: "+14155550401", email: "a@example.org" });
    const patientB = await createClinicPatient(workerEnv, b, { phone: "+14155550402", email: "b@example.org" });
    const jobs = await applyAndCaptureJobs([shipped(a, patientA), shipped(b, patientB)]);
    await runSender(jobs, { workerEnv });

    const smsA = providers.sms.find((sms) => sms.to === "+14155550401")!;
    const smsB = providers.sms.find((sms) => sms.to === "+14155550402")!;
    expect(smsA.body).toMatch(/^Alpha Clinic: /);
    expect(smsA.form.get("MessagingServiceSid")).toBe(SERVICE_A);
    expect(smsA.form.get("From")).toBeNull();
    expect(smsB.body).toMatch(/^Beta Health: /);
    expect(smsB.form.get("From")).toBe(NUMBER_B);
    expect(smsB.form.get("MessagingServiceSid")).toBeNull();

    const emailA = providers.emails.find((email) => email.body.to[0] === "a@example.org")!;
    const emailB = providers.emails.find((email) => email.body.to[0] === "b@example.org")!;
    expect(emailA.body).toMatchObject({ from: "Alpha Clinic <care@alpha.example>", reply_to: "desk@alpha.example" });
    expect(emailA.body.subject).toContain("Alpha Clinic");
    expect(emailA.body.text).toContain("+14155550111");
    // Clinic B set no email identity: the [vars] default, and no reply-to.
    expect(emailB.body.from).toBe(PROVIDER_ENV.EMAIL_FROM);
    expect(emailB.body).not.toHaveProperty("reply_to");
    expect(emailB.body.subject).toContain("Beta Health");
  });

  it("uses each clinic's zone (for patients without one), window and caps", async () => {
    mockProviders(server);
    const { a, b, workerEnv } = clinics();
    // 15:00 UTC is 00:00 in Tokyo: outside clinic A's window, inside clinic B's (New York, 10:00).
    await putClinicProfile(workerEnv, a, { time_zone: "Asia/Tokyo" });
    await putClinicProfile(workerEnv, b, { sms_daily_cap: 1, sms_send_window: "09:00-17:00" });
    const patientA = await createClinicPatient(workerEnv, a, { timezone: null });
    const patientB = await createClinicPatient(workerEnv, b, { timezone: null });
    const firstA = shipped(a, patientA);
    const firstB = shipped(b, patientB);
    const sms = (jobs: { channel: string }[]) => jobs.filter((job) => job.channel === "sms");
    const first = await runSender(sms(await applyAndCaptureJobs([firstA, firstB])) as never, { workerEnv });
    expect((await notificationsOf(firstA.event_id)).sms).toMatchObject({
      status: "scheduled",
      scheduled_for: "2026-01-15T23:00:00.000Z",
    });
    expect((await notificationsOf(firstB.event_id)).sms).toMatchObject({ status: "sent" });
    expect(first.delayed).toHaveLength(1);

    // Clinic B's cap is one text a day (the next waits for its window tomorrow); clinic A's is the default (3).
    const secondB = makeEvent("order:delivered", {
      clinic_id: b,
      data: { order_id: firstB.data.order_id, patient_id: patientB },
    });
    await runSender(sms(await applyAndCaptureJobs([secondB])) as never, { workerEnv });
    expect((await notificationsOf(secondB.event_id)).sms).toMatchObject({
      status: "scheduled",
      error: "daily_cap",
      scheduled_for: "2026-01-16T14:00:00.000Z",
    });
  });
});

describe("consent follows the sender", () => {
  it("a STOP to clinic A's own number stops clinic A's texts only; replies speak for the receiving clinic", async () => {
    const providers = mockProviders(server);
    const { a, b, workerEnv } = clinics();
    await putClinicProfile(workerEnv, a, ALPHA_SMS);
    await putClinicProfile(workerEnv, b, { name: "Beta Health", phone: "+14155550112", sms_from: NUMBER_B });
    const phone = "+14155550411";

    const stop = await postInbound(workerEnv, {
      From: phone,
      To: "+14155550999",
      MessagingServiceSid: SERVICE_A,
      Body: "STOP",
    });
    expect(await stop.text()).toContain("Alpha Clinic: you are unsubscribed");
    const help = await postInbound(workerEnv, { From: phone, To: NUMBER_B, Body: "HELP" });
    expect(await help.text()).toContain("Beta Health: for help, call +14155550112.");

    // The same person is a patient of both clinics, under the same NovaMed id.
    const patientA = await createClinicPatient(workerEnv, a, { phone });
    const patientB = await createClinicPatient(workerEnv, b, { phone }, patientA);
    const eventA = shipped(a, patientA);
    const eventB = shipped(b, patientB);
    await runSender(await applyAndCaptureJobs([eventA, eventB]), { workerEnv });
    expect((await notificationsOf(eventA.event_id)).sms).toMatchObject({
      status: "suppressed",
      error: "opted out by STOP",
    });
    expect((await notificationsOf(eventB.event_id)).sms).toMatchObject({ status: "sent" });
    expect(providers.sms.map((sms) => sms.form.get("From"))).toEqual([NUMBER_B]);

    // START to clinic A's number resubscribes the phone to clinic A.
    const start = await postInbound(workerEnv, {
      From: phone,
      To: "+14155550999",
      MessagingServiceSid: SERVICE_A,
      Body: "START",
    });
    expect(await start.text()).toContain("Alpha Clinic: you are resubscribed");
    const again = makeEvent("order:delivered", {
      clinic_id: a,
      data: { order_id: eventA.data.order_id, patient_id: patientA },
    });
    await runSender(await applyAndCaptureJobs([again]), { workerEnv });
    expect((await notificationsOf(again.event_id)).sms).toMatchObject({ status: "sent" });
  });

  it("a STOP to a sender the clinics share stops every one of them", async () => {
    mockProviders(server);
    const { a, b, workerEnv } = clinics();
    await putClinicProfile(workerEnv, a, { name: "Alpha Clinic" });
    const phone = "+14155550412";
    const stop = await postInbound(workerEnv, {
      From: phone,
      To: "+14155550998",
      MessagingServiceSid: PROVIDER_ENV.TWILIO_MESSAGING_SERVICE_SID,
      Body: "STOP",
    });
    // Two clinics share the sender: the reply names the default clinic.
    expect(await stop.text()).toContain(`${PROVIDER_ENV.CLINIC_NAME}: you are unsubscribed`);
    const eventA = shipped(a, await createClinicPatient(workerEnv, a, { phone }));
    const eventB = shipped(b, await createClinicPatient(workerEnv, b, { phone }));
    await runSender(await applyAndCaptureJobs([eventA, eventB]), { workerEnv });
    expect((await notificationsOf(eventA.event_id)).sms).toMatchObject({
      status: "suppressed",
      error: "opted out by STOP",
    });
    expect((await notificationsOf(eventB.event_id)).sms).toMatchObject({
      status: "suppressed",
      error: "opted out by STOP",
    });
  });
});
