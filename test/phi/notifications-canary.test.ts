import { env } from "cloudflare:workers";
import { http } from "msw";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { adminFetch } from "../helpers/admin";
import { ADMIN_TOKEN, makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import {
  applyAndCaptureJobs,
  DAYTIME,
  mockProviders,
  postTwilio,
  providerEnv,
  runSender,
  twilioError,
} from "../helpers/notifications";
import { CANARY, captureConsole, leakedCanaries } from "../helpers/phi-canary";

const server = useMockNetwork();

describe("PHI canary: patients and notifications", () => {
  it("no phone, email, name, address, medication or rendered message reaches the console or an error", async () => {
    const capture = captureConsole();
    const bodies: string[] = [];
    const patientId = uniqueId("pat");
    const put = (body: unknown) =>
      adminFetch(`/patients/${patientId}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });

    // Directory: a rejected patient (every field a canary), then a valid one, an import with bad rows.
    bodies.push(
      await (
        await put({
          phone: CANARY.name,
          email: CANARY.address,
          timezone: CANARY.medication,
          sms_opt_in: CANARY.phone,
          email_opt_in: true,
        })
      ).text(),
    );
    // The directory record itself is returned to the admin by design; it is not an error body.
    expect(
      (
        await put({
          phone: CANARY.phone,
          email: CANARY.email,
          timezone: "America/New_York",
          sms_opt_in: true,
          email_opt_in: true,
        })
      ).status,
    ).toBe(200);
    bodies.push(
      await (
        await adminFetch("/patients/import", {
          method: "POST",
          headers: { "content-type": "text/csv" },
          body: `patient_id,phone,email,sms_opt_in,email_opt_in\nx,${CANARY.name},${CANARY.email}x,true,true\n`,
        })
      ).text(),
    );

    // Events carrying canaries, the sender through Twilio (an error quoting the number) and Resend.
    const providers = mockProviders(server);
    const event = makeEvent("order:shipped", {
      data: {
        order_id: uniqueId("ord"),
        patient_id: patientId,
        medication_name: CANARY.medication,
        patient_name: CANARY.name,
        shipping_address: { line1: CANARY.address, city: CANARY.city },
      },
    });
    const jobs = await applyAndCaptureJobs([event]);
    server.use(
      http.post(
        "https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json",
        () => twilioError(400, 21211, `The 'To' number ${CANARY.phone} is not a valid phone number.`),
        { once: true },
      ),
    );
    await runSender(jobs);
    await runSender(jobs, { now: Date.parse("2026-01-15T16:00:00Z"), attempts: 2 });
    const delivered = makeEvent("order:delivered", { data: { order_id: event.data.order_id, patient_id: patientId } });
    await runSender(await applyAndCaptureJobs([delivered]));

    // Twilio webhooks from the canary number, with a canary message.
    await postTwilio("inbound", { From: CANARY.phone, To: "+14155550100", Body: `STOP ${CANARY.name}` });
    await postTwilio("inbound", { From: CANARY.phone, To: "+14155550100", Body: CANARY.medication });
    await postTwilio("inbound", { From: CANARY.phone, To: "+14155550100", Body: "START" });
    await postTwilio("status", {
      MessageSid: "SMunknown",
      MessageStatus: "failed",
      To: CANARY.phone,
      ErrorCode: "30003",
    });
    bodies.push(
      await (await adminFetch(`/events/${event.event_id}`)).text(),
      await (await adminFetch(`/events/${delivered.event_id}`)).text(),
    );
    capture.stop();

    const rendered = await env.DB.prepare(
      `SELECT rendered FROM notifications WHERE event_id IN (?1, ?2) AND rendered IS NOT NULL`,
    )
      .bind(event.event_id, delivered.event_id)
      .all<{ rendered: string }>();
    const renderedTexts = rendered.results.flatMap((row) =>
      Object.values(JSON.parse(row.rendered) as Record<string, string>),
    );
    expect(renderedTexts.length).toBeGreaterThan(0);
    expect(providers.emails.length).toBeGreaterThan(0);

    const output = capture.output();
    expect(output).toContain(`"message":"notification batch"`);
    for (const line of output.split("\n"))
      if (leakedCanaries(line).length) throw new Error(`leak: ${line.slice(0, 600)}`);
    expect(leakedCanaries(output)).toEqual([]);
    expect(leakedCanaries(bodies.join("\n"))).toEqual([]);
    for (const text of renderedTexts) expect(output).not.toContain(text);
    // The stored provider error is redacted too.
    const errors = await env.DB.prepare(`SELECT error FROM notifications WHERE event_id = ?1`)
      .bind(event.event_id)
      .all<{ error: string | null }>();
    expect(leakedCanaries(JSON.stringify(errors.results))).toEqual([]);
  });

  it("the new paths leak nothing either: held, superseded, the Twilio lookup, delivery reports, the detail, replay and health routes", async () => {
    const patientId = uniqueId("pat");
    await adminFetch(`/patients/${patientId}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        phone: CANARY.phone,
        email: CANARY.email,
        timezone: "America/New_York",
        sms_opt_in: true,
        email_opt_in: true,
      }),
    });
    const capture = captureConsole();
    const bodies: string[] = [];
    // Hostile payload fields carry canaries too: none may reach a message, a log or an error.
    const data = {
      order_id: uniqueId("ord"),
      patient_id: patientId,
      carrier: CANARY.name,
      tracking_number: CANARY.address,
      estimated_delivery: CANARY.city,
      medication_name: CANARY.medication,
    };
    const shipped = makeEvent("order:shipped", { timestamp: "2026-01-15T13:00:00Z", data });
    const delivered = makeEvent("order:delivered", { timestamp: "2026-01-15T14:00:00Z", data });

    // Held: SMS_PROVIDER unset, and a malformed setting whose value is a canary.
    const shippedJobs = await applyAndCaptureJobs([shipped]);
    await runSender(shippedJobs, { workerEnv: providerEnv({ SMS_PROVIDER: "", EMAIL_PROVIDER: CANARY.name }) });
    // Released, then sent with a lost answer (the lookup path), then superseded by delivered.
    bodies.push(
      await (
        await adminFetch("/notifications/replay", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ status: "held", limit: 1000 }),
        })
      ).text(),
    );
    const providers = mockProviders(server, { loseAnswers: 1 });
    const deliveredJobs = await applyAndCaptureJobs([delivered]);
    await runSender([...shippedJobs, ...deliveredJobs]);
    await runSender(deliveredJobs, { now: DAYTIME + 30_000, attempts: 2 });
    expect(providers.lookups.length).toBeGreaterThan(0);

    // Delivery reports (one early, by id) and the detail route for each notification.
    const { notifications } = (await (await adminFetch(`/events/${delivered.event_id}`)).json()) as {
      notifications: { notification_id: string }[];
    };
    for (const { notification_id } of notifications) {
      await postTwilio(`status?notification_id=${notification_id}`, {
        MessageSid: "SMcanary00000000000000000000000001",
        MessageStatus: "undelivered",
        To: CANARY.phone,
        ErrorCode: "30005",
      });
      const detail = await adminFetch(`/notifications/${notification_id}`);
      expect(detail.status).toBe(200);
      // The rendered message is shown to staff by design; it names no canary of the payload.
      expect(leakedCanaries(await detail.text()).filter((value) => value !== CANARY.phone)).toEqual([]);
    }
    bodies.push(await (await adminFetch("/notifications/ntf_nope")).text());
    const health = await worker.fetch(
      new Request("https://receiver.test/admin/health", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
      { ...env, SMS_SEND_WINDOW: CANARY.phone, EMAIL_PROVIDER: CANARY.email } as unknown as Env,
    );
    expect(health.status).toBe(200);
    bodies.push(await health.text());
    capture.stop();

    expect((await notificationsOfEvent(shipped.event_id)).every((status) => status === "superseded")).toBe(true);
    const output = capture.output();
    expect(output).toContain("notification held");
    expect(output).toContain("notification superseded");
    for (const line of output.split("\n"))
      if (leakedCanaries(line).length) throw new Error(`leak: ${line.slice(0, 600)}`);
    expect(leakedCanaries(bodies.join("\n"))).toEqual([]);
    for (const sms of providers.sms) expect(leakedCanaries(sms.body)).toEqual([]);
    // The messages themselves carry none of the payload's canaries (the email goes to the patient's address).
    for (const { body } of providers.emails)
      expect(leakedCanaries([body.subject, body.text, body.html].join("\n"))).toEqual([]);
  });
});

async function notificationsOfEvent(eventId: string): Promise<string[]> {
  const { results } = await env.DB.prepare(`SELECT status FROM notifications WHERE event_id = ?1`)
    .bind(eventId)
    .all<{ status: string }>();
  return results.map((row) => row.status);
}
