import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { twilioSignature } from "../../src/notify/twilio-signature";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import {
  applyAndCaptureJobs,
  createPatient,
  mockProviders,
  notificationsOf,
  PROVIDER_ENV,
  postTwilio,
  runSender,
} from "../helpers/notifications";

const server = useMockNetwork();

const TOKEN = PROVIDER_ENV.TWILIO_AUTH_TOKEN;

const inbound = (from: string, body: string) => ({
  MessageSid: `SM${uniqueId("x")}`,
  AccountSid: PROVIDER_ENV.TWILIO_ACCOUNT_SID,
  From: from,
  To: "+14155550100",
  Body: body,
  NumMedia: "0",
});

async function optedOut(phone: string) {
  return (await env.DB.prepare(`SELECT phone FROM sms_opt_outs WHERE phone = ?1`).bind(phone).first()) !== null;
}

describe("POST /webhooks/twilio/inbound", () => {
  it("during a token rotation, a STOP signed with either token opts out; the sender authenticates with the first", async () => {
    const rotating = { ...env, ...PROVIDER_ENV, TWILIO_AUTH_TOKEN: `new-token, ${TOKEN}` } as unknown as Env;
    for (const [phone, token] of [
      ["+14155550311", TOKEN],
      ["+14155550312", "new-token"],
    ] as const) {
      const url = "https://receiver.test/webhooks/twilio/inbound";
      const params = inbound(phone, "STOP");
      const response = await worker.fetch(
        new Request(url, {
          method: "POST",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": await twilioSignature(token, url, params),
          },
          body: new URLSearchParams(params),
        }),
        rotating,
      );
      expect(response.status).toBe(200);
      expect(await optedOut(phone)).toBe(true);
    }
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const jobs = await applyAndCaptureJobs([
      makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } }),
    ]);
    await runSender(
      jobs.filter((job) => job.channel === "sms"),
      { workerEnv: rotating },
    );
    expect(providers.sms[0]!.authorization).toBe(`Basic ${btoa(`${PROVIDER_ENV.TWILIO_ACCOUNT_SID}:new-token`)}`);
  });

  it("a STOP is recorded even while a notification setting is malformed", async () => {
    const url = "https://receiver.test/webhooks/twilio/inbound";
    const params = inbound("+14155550313", "STOP");
    const response = await worker.fetch(
      new Request(url, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          "x-twilio-signature": await twilioSignature(TOKEN, url, params),
        },
        body: new URLSearchParams(params),
      }),
      { ...env, ...PROVIDER_ENV, SMS_SEND_WINDOW: "25:00-26:00" } as unknown as Env,
    );
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("you are unsubscribed");
    expect(await optedOut("+14155550313")).toBe(true);
  });

  it("403 for a bad or missing signature, and nothing changes", async () => {
    const phone = "+14155550301";
    const bad = await postTwilio("inbound", inbound(phone, "STOP"), "bm90IGEgc2lnbmF0dXJl");
    expect(bad.status).toBe(403);
    expect(await bad.json()).toMatchObject({ error: { code: "forbidden" } });
    const missing = await exports.default.fetch("https://receiver.test/webhooks/twilio/inbound", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(inbound(phone, "STOP")),
    });
    expect(missing.status).toBe(403);
    expect(await optedOut(phone)).toBe(false);
  });

  it.each(["STOP", "stop", "StopAll", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", " Stop. "])(
    "%j opts the number out at once, answering in TwiML",
    async (keyword) => {
      const phone = `+1415555${String(Math.floor(Math.random() * 9000) + 1000)}`;
      const response = await postTwilio("inbound", inbound(phone, keyword));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/xml");
      const twiml = await response.text();
      expect(twiml).toMatch(
        /^<\?xml version="1.0" encoding="UTF-8"\?><Response><Message>Sunrise Clinic: you are unsubscribed/,
      );
      expect(await optedOut(phone)).toBe(true);
    },
  );

  it.each(["START", "UNSTOP", "yes"])("%j opts back in", async (keyword) => {
    const phone = "+14155550302";
    await postTwilio("inbound", inbound(phone, "STOP"));
    const response = await postTwilio("inbound", inbound(phone, keyword));
    expect(await response.text()).toContain("resubscribed");
    expect(await optedOut(phone)).toBe(false);
  });

  it("HELP answers with the clinic's contact; other texts get an empty TwiML answer", async () => {
    const help = await (await postTwilio("inbound", inbound("+14155550303", "help"))).text();
    expect(help).toContain(`call ${PROVIDER_ENV.CLINIC_PHONE}`);
    expect(help).toContain("Sunrise Clinic");
    const other = await (await postTwilio("inbound", inbound("+14155550303", "when does it arrive?"))).text();
    expect(other).toBe('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
  });

  it("STOP then a shipped event: no SMS, the email still goes; START restores SMS", async () => {
    const providers = mockProviders(server);
    const phone = "+14155550304";
    const patientId = await createPatient({ phone });
    await postTwilio("inbound", inbound(phone, "STOP"));
    const orderId = uniqueId("ord");
    const shipped = makeEvent("order:shipped", { data: { order_id: orderId, patient_id: patientId } });
    await runSender(await applyAndCaptureJobs([shipped]));
    expect(providers.sms).toHaveLength(0);
    expect(providers.emails).toHaveLength(1);
    expect((await notificationsOf(shipped.event_id)).sms).toMatchObject({
      status: "suppressed",
      error: "opted out by STOP",
    });

    await postTwilio("inbound", inbound(phone, "START"));
    const delivered = makeEvent("order:delivered", { data: { order_id: orderId, patient_id: patientId } });
    await runSender(await applyAndCaptureJobs([delivered]));
    expect(providers.sms.map((sms) => sms.to)).toEqual([phone]);
  });
});

describe("POST /webhooks/twilio/status", () => {
  async function sentSms() {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
    await runSender((await applyAndCaptureJobs([event])).filter((job) => job.channel === "sms"));
    const sid = await env.DB.prepare(
      `SELECT provider_message_id FROM notifications WHERE event_id = ?1 AND channel = 'sms'`,
    )
      .bind(event.event_id)
      .first<{ provider_message_id: string }>();
    return { event, sid: sid!.provider_message_id, providers };
  }

  it("records delivered", async () => {
    const { event, sid } = await sentSms();
    const response = await postTwilio("status", {
      MessageSid: sid,
      MessageStatus: "delivered",
      AccountSid: PROVIDER_ENV.TWILIO_ACCOUNT_SID,
    });
    expect(response.status).toBe(204);
    expect((await notificationsOf(event.event_id)).sms).toMatchObject({ status: "delivered" });
  });

  it.each(["undelivered", "failed"])("records %s as failed with the error code", async (status) => {
    const { event, sid } = await sentSms();
    await postTwilio("status", { MessageSid: sid, MessageStatus: status, ErrorCode: "30003" });
    expect((await notificationsOf(event.event_id)).sms).toMatchObject({
      status: "failed",
      error: `twilio ${status} 30003`,
    });
  });

  it("ignores intermediate statuses and rejects a bad signature without changing anything", async () => {
    const { event, sid } = await sentSms();
    await postTwilio("status", { MessageSid: sid, MessageStatus: "sending" });
    expect((await notificationsOf(event.event_id)).sms).toMatchObject({ status: "sent" });
    const forged = await postTwilio("status", { MessageSid: sid, MessageStatus: "failed" }, "Zm9yZ2Vk");
    expect(forged.status).toBe(403);
    expect((await notificationsOf(event.event_id)).sms).toMatchObject({ status: "sent" });
  });
});
