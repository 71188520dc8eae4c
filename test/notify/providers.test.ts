import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import { classifyStatus, networkFailure, redactContacts } from "../../src/notify/providers/provider";
import { emailIdempotencyKey, resendProvider } from "../../src/notify/providers/resend";
import { twilioProvider } from "../../src/notify/providers/twilio";
import { useMockNetwork } from "../helpers/msw";

const server = useMockNetwork();

const email = {
  notificationId: "ntf_1",
  channel: "email" as const,
  to: "pat@example.org",
  email: { subject: "s", text: "t", html: "<p>t</p>" },
};
const sms = { notificationId: "ntf_2", channel: "sms" as const, to: "+14155550123", sms: "hello" };
const resend = resendProvider({ apiKey: "re_test", from: "Clinic <c@example.org>" });
const twilio = twilioProvider({
  accountSid: "AC1",
  authTokens: ["t"],
  messagingServiceSid: "MG1",
  from: null,
  statusCallbackUrl: null,
});

describe("provider outcome classification", () => {
  it("429 and 5xx are transient, other 4xx permanent", () => {
    expect([429, 500, 502, 503].map(classifyStatus)).toEqual(["transient", "transient", "transient", "transient"]);
    expect([400, 401, 403, 404, 422].map(classifyStatus)).toEqual([
      "permanent",
      "permanent",
      "permanent",
      "permanent",
      "permanent",
    ]);
  });

  it("a timeout or a network error is an unknown outcome", () => {
    expect(networkFailure(new DOMException("The operation timed out.", "TimeoutError"))).toEqual({
      outcome: "unknown",
      reason: "timeout",
    });
    expect(networkFailure(new TypeError("fetch failed"))).toEqual({ outcome: "unknown", reason: "network error" });
  });

  it("removes phone numbers and email addresses from a provider's reason", () => {
    expect(redactContacts("The 'To' number +1 (415) 555-0123 is invalid for pat@example.org")).toBe(
      "The 'To' number [redacted] is invalid for [redacted]",
    );
  });
});

describe("Resend", () => {
  it.each([
    [422, "validation_error", "permanent"],
    [429, "rate_limit_exceeded", "transient"],
    [500, "internal_server_error", "transient"],
    [409, "concurrent_idempotent_requests", "transient"],
    [409, "invalid_idempotent_request", "permanent"],
  ])("%i %s is %s", async (status, name, outcome) => {
    server.use(
      http.post("https://api.resend.com/emails", () =>
        HttpResponse.json(
          { statusCode: status, name, message: "The `to` field is invalid: pat@example.org" },
          { status },
        ),
      ),
    );
    const result = await resend.send(email);
    expect(result.outcome).toBe(outcome);
    expect(JSON.stringify(result)).not.toContain("pat@example.org");
  });

  it("sends the notification id as the Idempotency-Key and returns the email id", async () => {
    let key: string | null = null;
    server.use(
      http.post("https://api.resend.com/emails", ({ request }) => {
        key = request.headers.get("idempotency-key");
        return HttpResponse.json({ id: "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794" });
      }),
    );
    expect(await resend.send(email)).toEqual({
      outcome: "sent",
      providerMessageId: "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794",
    });
    expect(key).toBe("ntf_1");
  });

  it("keys an id a header cannot carry as is (an event id with a space or beyond ASCII) by its SHA-256, the same on every try", async () => {
    // Notification ids hold their event's id (migration 0186), which NovaMed may write in any characters.
    const plain = "ntf_evt_01J9Z.email";
    expect(await emailIdempotencyKey(plain)).toBe(plain);
    expect(await emailIdempotencyKey(`ntf_${"e".repeat(200)}.email`)).toBe(`ntf_${"e".repeat(200)}.email`);
    const keys: (string | null)[] = [];
    server.use(
      http.post("https://api.resend.com/emails", ({ request }) => {
        keys.push(request.headers.get("idempotency-key"));
        return HttpResponse.json({ id: "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794" });
      }),
    );
    for (const notificationId of [
      "ntf_évt 1.email",
      "ntf_évt 1.email",
      "ntf_évt 2.email",
      `ntf_${"é".repeat(200)}.email`,
    ])
      expect((await resend.send({ ...email, notificationId })).outcome).toBe("sent");
    expect(keys[0]).toMatch(/^ntf-sha256-[0-9a-f]{64}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[0]);
    expect(keys[3]).toMatch(/^ntf-sha256-[0-9a-f]{64}$/);
  });
});

describe("Twilio", () => {
  it("a network failure is an unknown outcome, not a failure", async () => {
    server.use(http.post("https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json", () => HttpResponse.error()));
    expect(await twilio.send(sms)).toEqual({ outcome: "unknown", reason: "network error" });
  });

  it("21610 is an opt-out", async () => {
    server.use(
      http.post("https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json", () =>
        HttpResponse.json(
          {
            code: 21610,
            message: "Attempt to send to unsubscribed recipient",
            more_info: "https://www.twilio.com/docs/errors/21610",
            status: 400,
          },
          { status: 400 },
        ),
      ),
    );
    expect((await twilio.send(sms)).outcome).toBe("opted_out");
  });
});
