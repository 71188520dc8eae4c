import { env } from "cloudflare:workers";
import { http } from "msw";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { twilioSignature } from "../../src/notify/twilio-signature";
import { adminFetch } from "../helpers/admin";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { applyAndCaptureJobs, mockProviders, PROVIDER_ENV, runSender, twilioError } from "../helpers/notifications";
import { CANARY, captureConsole, leakedCanaries } from "../helpers/phi-canary";

const server = useMockNetwork();
afterEach(() => vi.restoreAllMocks());

async function postTwilio(path: string, params: Record<string, string>) {
  const url = `https://receiver.test/webhooks/twilio/${path}`;
  return worker.fetch(
    new Request(url, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": await twilioSignature(PROVIDER_ENV.TWILIO_AUTH_TOKEN, url, params),
      },
      body: new URLSearchParams(params),
    }),
    { ...env, ...PROVIDER_ENV } as unknown as Env,
  );
}

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
});
