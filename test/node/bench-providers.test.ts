import { describe, expect, it } from "vitest";
import { providerFakes } from "../../bench/providers.ts";

const TWILIO = "https://api.twilio.com/2010-04-01/Accounts/AC0000/Messages.json";

async function sms(fakes: ReturnType<typeof providerFakes>, to: string, body: string): Promise<string> {
  const response = await fakes.outboundService(
    new Request(TWILIO, { method: "POST", body: new URLSearchParams({ To: to, Body: body }) }),
  );
  expect(response.status).toBe(201);
  return ((await response.json()) as { sid: string }).sid;
}

async function email(fakes: ReturnType<typeof providerFakes>, key: string, payload: string): Promise<string> {
  const response = await fakes.outboundService(
    new Request("https://api.resend.com/emails", {
      method: "POST",
      headers: { "Idempotency-Key": key },
      body: payload,
    }),
  );
  expect(response.status).toBe(200);
  return ((await response.json()) as { id: string }).id;
}

describe("bench: the provider fakes' figures (bench/providers.ts)", () => {
  it("counts accepted messages no row records, and tells two rows sharing one message from a second send", async () => {
    // No refusals: every request is answered.
    const fakes = providerFakes(0, () => 1);
    const first = await sms(fakes, "+14155550101", "Clinic: your order was delivered.");
    const twin = await sms(fakes, "+14155550101", "Clinic: your order was delivered.");
    const other = await sms(fakes, "+14155550102", "Clinic: your order shipped.");
    const mail = await email(fakes, "ntf_evt_1.email", '{"subject":"Shipped"}');
    // Resend answers a repeat under the same key with the first id: nothing new is sent.
    expect(await email(fakes, "ntf_evt_1.email", '{"subject":"Shipped"}')).toBe(mail);

    // Every message recorded by its own row.
    expect(fakes.figures([first, twin, other, mail])).toMatchObject({
      sms_accepted: 3,
      email_accepted: 1,
      sent_more_than_once: 0,
      unrecorded_with_recorded_twin: 0,
      provider_ids_recorded_twice: 0,
      resend_idempotent_repeats: 1,
    });
    // Two notifications' identical texts both recorded as the first: one unrecorded, its twin
    // recorded, one id recorded twice (a mix-up, not a second message).
    expect(fakes.figures([first, first, other, mail])).toMatchObject({
      sent_more_than_once: 1,
      unrecorded_with_recorded_twin: 1,
      provider_ids_recorded_twice: 1,
    });
    // An unrecorded text with no recorded twin, and an unrecorded email.
    expect(fakes.figures([first, twin])).toMatchObject({
      sent_more_than_once: 2,
      unrecorded_with_recorded_twin: 0,
      provider_ids_recorded_twice: 0,
    });
  });
});
