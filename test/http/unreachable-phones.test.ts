import { env } from "cloudflare:workers";
import { http } from "msw";
import { describe, expect, it } from "vitest";
import { evaluateRules } from "../../src/watch/run";
import { adminJson } from "../helpers/admin";
import { TEST_NOW } from "../helpers/clock";
import { CLINIC_ID, makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import * as notifications from "../helpers/notifications";
import { alertsOn, HOUR } from "../helpers/watch";

const server = useMockNetwork();
const TWILIO_SEND = "https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json";

/** A new patient with its own phone; returns its id and phone. */
async function patientWithPhone() {
  const phone = `+1415556${String(Math.floor(Math.random() * 10_000)).padStart(4, "0")}`;
  return { patientId: await notifications.createPatient({ phone }), phone };
}

/** Runs the sender over a new shipped order's SMS for the patient; returns the SMS notification. */
async function textAbout(patientId: string) {
  const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
  await notifications.runSender(
    (await notifications.applyAndCaptureJobs([event])).filter((job) => job.channel === "sms"),
  );
  const sms = (await notifications.notificationsOf(event.event_id)).sms!;
  const row = await env.DB.prepare(`SELECT provider_message_id FROM notifications WHERE notification_id = ?1`)
    .bind(sms.notification_id)
    .first<{ provider_message_id: string | null }>();
  return { ...sms, sid: row?.provider_message_id ?? null };
}

/** A text to a new patient, then Twilio's delivery report of it with an error code; returns the patient. */
async function reportedError(code: number, status = "undelivered") {
  const { patientId, phone } = await patientWithPhone();
  notifications.mockProviders(server);
  const sms = await textAbout(patientId);
  await notifications.postTwilio(`status?notification_id=${sms.notification_id}`, {
    MessageSid: sms.sid!,
    MessageStatus: status,
    ErrorCode: String(code),
    To: phone,
    From: "+14155550100",
  });
  return patientId;
}

const patientView = async (patientId: string) =>
  (await adminJson<Record<string, unknown>>(`/patients/${patientId}`)).body;

describe("Twilio permanent errors: the phone is unreachable", () => {
  it.each([21211, 21614])(
    "error %i on send marks the phone unreachable: no further SMS until it changes",
    async (code) => {
      const { patientId, phone } = await patientWithPhone();
      notifications.mockProviders(server);
      server.use(
        http.post(TWILIO_SEND, () => notifications.twilioError(400, code, `The 'To' number ${phone} is not valid.`), {
          once: true,
        }),
      );
      expect(await textAbout(patientId)).toMatchObject({ status: "failed" });
      expect(await patientView(patientId)).toMatchObject({
        phone_status: "unreachable",
        phone_unreachable_error: `twilio ${code}`,
      });
      const providers = notifications.mockProviders(server);
      expect(await textAbout(patientId)).toMatchObject({ status: "suppressed", error: "phone_unreachable" });
      expect(providers.sms).toHaveLength(0);

      // A PUT keeping the phone keeps it unreachable; a new phone lifts it.
      const put = (fields: Record<string, unknown>) =>
        adminJson(`/patients/${patientId}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email: null, sms_opt_in: true, email_opt_in: false, ...fields }),
        });
      expect((await put({ phone })).body).toMatchObject({ phone_status: "unreachable" });
      expect((await put({ phone: "+14155559876" })).body).toMatchObject({
        phone_status: "ok",
        phone_unreachable_error: null,
      });
      expect(await textAbout(patientId)).toMatchObject({ status: "sent" });
    },
  );

  it.each([30005, 30006])("error %i in a delivery report marks the phone unreachable", async (code) => {
    const patientId = await reportedError(code);
    expect(await patientView(patientId)).toMatchObject({ phone_status: "unreachable", sms_opt_in: true });
    expect(await textAbout(patientId)).toMatchObject({ status: "suppressed", error: "phone_unreachable" });
  });

  it("a lifecycle-watch rule alerts staff about the patient, and resolves once the phone changes", async () => {
    const patientId = await reportedError(30006, "failed");
    await evaluateRules(env, new Date(TEST_NOW));
    expect(await alertsOn(patientId, "phone_unreachable")).toMatchObject([
      { state: "open", target_type: "patient", clinic_id: CLINIC_ID },
    ]);
    await adminJson(`/patients/${patientId}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ phone: "+14155559877", email: null, sms_opt_in: true, email_opt_in: false }),
    });
    await evaluateRules(env, new Date(TEST_NOW + HOUR));
    expect(await alertsOn(patientId, "phone_unreachable")).toMatchObject([{ state: "resolved" }]);
  });

  it("another error code changes nothing about the phone", async () => {
    expect(await patientView(await reportedError(30003))).toMatchObject({ phone_status: "ok" });
  });
});

describe("Twilio 30007: carrier filtering", () => {
  it("opens a staff alert for the clinic, which resolves after a day without another", async () => {
    await env.DB.prepare(`DELETE FROM sms_carrier_filtering`).run();
    const patientId = await reportedError(30007);
    expect(await patientView(patientId)).toMatchObject({ phone_status: "ok" });
    await evaluateRules(env, new Date(TEST_NOW + 5 * 60_000));
    const [alert] = await alertsOn(CLINIC_ID, "sms_carrier_filtering");
    expect(alert).toMatchObject({ state: "open", target_type: "clinic", clinic_id: CLINIC_ID });
    await evaluateRules(env, new Date(TEST_NOW + 25 * HOUR));
    expect(await alertsOn(CLINIC_ID, "sms_carrier_filtering")).toMatchObject([{ state: "resolved" }]);
  });
});
