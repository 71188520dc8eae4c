import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { adminFetch } from "../helpers/admin";
import { setClock, TEST_NOW } from "../helpers/clock";
import { useMockNetwork } from "../helpers/msw";
import { createPatient, notificationsOf, postTwilio, providerEnv } from "../helpers/notifications";
import { nextEmail, postResend, RESEND_SECRET, resendEvent, sentEmail } from "../helpers/resend";

const server = useMockNetwork();

async function patient(patientId: string) {
  return (await (await adminFetch(`/patients/${patientId}`)).json()) as Record<string, unknown>;
}

async function putPatient(patientId: string, fields: Record<string, unknown>) {
  const response = await adminFetch(`/patients/${patientId}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ timezone: "America/New_York", sms_opt_in: true, email_opt_in: true, ...fields }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

describe("POST /webhooks/resend: signatures", () => {
  it("refuses a missing signature, another secret's and a timestamp over 5 minutes old with 401, changing nothing", async () => {
    const { event, emailId, address, patientId } = await sentEmail(server);
    const bounce = resendEvent("email.bounced", emailId, {
      to: [address],
      bounce: { type: "Permanent", subType: "General", message: "The address does not exist." },
    });
    const refused = [
      await postResend(bounce, { headers: {} }),
      await postResend(bounce, { secret: `whsec_${btoa("another-key-that-is-not-ours-000000")}` }),
      await postResend(bounce, { at: new Date(TEST_NOW - 5 * 60_000 - 1_000) }),
    ];
    for (const response of refused) {
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: { code: "unauthorized" } });
    }
    expect((await notificationsOf(event.event_id)).email).toMatchObject({ status: "sent" });
    expect(await patient(patientId)).toMatchObject({ email_opt_in: true, email_opt_out_reason: null });
  });

  it("refuses every event while RESEND_WEBHOOK_SECRET is not set", async () => {
    const { emailId } = await sentEmail(server);
    const body = JSON.stringify(resendEvent("email.delivered", emailId));
    const id = "msg_1";
    const at = new Date();
    const response = await worker.fetch(
      new Request("https://receiver.test/webhooks/resend", {
        method: "POST",
        headers: {
          "svix-id": id,
          "svix-timestamp": String(Math.floor(at.getTime() / 1000)),
          "svix-signature": new Webhook(RESEND_SECRET).sign(id, at, body),
        },
        body,
      }),
      providerEnv(),
    );
    expect(response.status).toBe(401);
  });

  it("answers 200 to a signed event about an email it does not know, and ignores it", async () => {
    const response = await postResend(
      resendEvent("email.bounced", crypto.randomUUID(), { bounce: { type: "Permanent", subType: "General" } }),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: true });
  });
});

describe("POST /webhooks/resend: outcomes", () => {
  it("moves delivery status forward only: delivered, then a late delivery_delayed changes nothing", async () => {
    const { event, emailId } = await sentEmail(server);
    expect((await postResend(resendEvent("email.delivered", emailId))).status).toBe(200);
    expect((await notificationsOf(event.event_id)).email).toMatchObject({ status: "delivered" });
    expect((await postResend(resendEvent("email.delivery_delayed", emailId))).status).toBe(200);
    expect((await notificationsOf(event.event_id)).email).toMatchObject({ status: "delivered" });
  });

  it("a permanent bounce fails the email and turns email consent off (bounced) until the address changes", async () => {
    const { event, emailId, patientId, address } = await sentEmail(server);
    const response = await postResend(
      resendEvent("email.bounced", emailId, {
        to: [address],
        bounce: { type: "Permanent", subType: "General", message: "The recipient's mailbox does not exist." },
      }),
    );
    expect(response.status).toBe(200);
    expect((await notificationsOf(event.event_id)).email).toMatchObject({
      status: "failed",
      error: "resend bounce Permanent/General",
    });
    expect(await patient(patientId)).toMatchObject({ email_opt_in: false, email_opt_out_reason: "bounced" });
    expect(await nextEmail(server, patientId)).toMatchObject({ status: "suppressed", error: "email_bounced" });

    // A PUT that keeps the address (even asking for consent again) never clears it.
    expect(await putPatient(patientId, { email: address, email_opt_in: true })).toMatchObject({
      email_opt_in: false,
      email_opt_out_reason: "bounced",
    });
    // A new address does.
    expect(await putPatient(patientId, { email: `new-${address}`, email_opt_in: true })).toMatchObject({
      email_opt_in: true,
      email_opt_out_reason: null,
    });
    expect(await nextEmail(server, patientId)).toMatchObject({ status: "sent" });
  });

  it("a transient bounce fails the email but keeps the address", async () => {
    const { event, emailId, patientId, address } = await sentEmail(server);
    await postResend(
      resendEvent("email.bounced", emailId, { to: [address], bounce: { type: "Transient", subType: "MailboxFull" } }),
    );
    expect((await notificationsOf(event.event_id)).email).toMatchObject({ status: "failed" });
    expect(await patient(patientId)).toMatchObject({ email_opt_in: true, email_opt_out_reason: null });
  });

  it("a complaint turns email consent off (complained); a repeated complaint changes nothing", async () => {
    const { event, emailId, patientId, address } = await sentEmail(server);
    setClock(TEST_NOW + 60_000);
    await postResend(resendEvent("email.complained", emailId, { to: [address] }));
    setClock(TEST_NOW + 120_000);
    await postResend(resendEvent("email.complained", emailId, { to: [address] }));
    expect((await notificationsOf(event.event_id)).email).toMatchObject({ status: "delivered" });
    expect(await patient(patientId)).toMatchObject({ email_opt_in: false, email_opt_out_reason: "complained" });
    const stored = await env.DB.prepare(`SELECT opted_out_at FROM contact_opt_outs WHERE patient_id = ?1`)
      .bind(patientId)
      .first<{ opted_out_at: string }>();
    expect(stored?.opted_out_at).toBe(new Date(TEST_NOW + 60_000).toISOString());
  });
});

describe("GET /admin/patients: effective consent", () => {
  it("shows SMS consent false with reason stop while the number is opted out; START lifts it", async () => {
    const phone = "+14155550377";
    const patientId = await createPatient({ phone });
    expect(await patient(patientId)).toMatchObject({ sms_opt_in: true, sms_opt_out_reason: null, phone_status: "ok" });
    await postTwilio("inbound", { From: phone, To: "+14155550100", Body: "STOP" });
    expect(await patient(patientId)).toMatchObject({ sms_opt_in: false, sms_opt_out_reason: "stop" });
    // Staff re-saving the same phone with consent does not undo the patient's STOP.
    expect(await putPatient(patientId, { phone, sms_opt_in: true })).toMatchObject({ sms_opt_in: false });
    await postTwilio("inbound", { From: phone, To: "+14155550100", Body: "START" });
    expect(await patient(patientId)).toMatchObject({ sms_opt_in: true, sms_opt_out_reason: null });
  });
});
