/**
 * Twilio and Resend as the pipeline parts see them: the Worker gets (fake) credentials, so its real
 * provider code runs, and Miniflare's `outboundService` answers every outbound request here, so
 * nothing leaves the machine. Every accepted message gets a fresh provider id (Twilio's `sid`,
 * Resend's `id`); the sender records the id of each message it sent in its notification row, so an
 * accepted id that no row holds is a message whose outcome was lost and sent again: a patient
 * messaged twice. At `failureRate` a request is refused before being accepted (503, a transient
 * provider failure the sender must retry).
 */

/** The Worker variables that choose Twilio and Resend (each channel's provider is explicit) with these fakes behind them. */
export const PROVIDER_VARS = {
  SMS_PROVIDER: "twilio",
  EMAIL_PROVIDER: "resend",
  TWILIO_ACCOUNT_SID: "ACbench00000000000000000000000000",
  TWILIO_AUTH_TOKEN: "bench-twilio-token",
  TWILIO_FROM_NUMBER: "+14155550100",
  RESEND_API_KEY: "re_bench",
  EMAIL_FROM: "Bench Clinic <care@clinic.example>",
  // The stream's 100 patients get about 50 messages each in one day; the per-patient daily caps
  // (3 SMS, 5 emails) would suppress all but 800 of them and leave the sender nothing to measure.
  SMS_DAILY_CAP: "0",
  EMAIL_DAILY_CAP: "0",
};

/** What the fakes saw, for latest.json. */
export interface ProviderFigures {
  sms_accepted: number;
  email_accepted: number;
  /** Accepted provider ids (SMS and email) that no notification row records: messages sent twice. */
  sent_more_than_once: number;
  refused_injected: number;
  /** Requests to anywhere but the two providers (answered 502; should be 0). */
  unexpected_requests: number;
}

/** A fresh pair of fakes; `failureRate` in [0, 1]. */
export function providerFakes(failureRate: number, random: () => number = Math.random) {
  const sms = new Set<string>();
  const email = new Set<string>();
  let refused = 0;
  let unexpected = 0;
  const issue = (ids: Set<string>, prefix: string) => {
    const id = `${prefix}${crypto.randomUUID().replaceAll("-", "")}`;
    ids.add(id);
    return id;
  };

  async function outboundService(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const twilio = url.hostname === "api.twilio.com" && url.pathname.endsWith("/Messages.json");
    const resend = url.hostname === "api.resend.com" && url.pathname === "/emails";
    if (!twilio && !resend) {
      unexpected += 1;
      return new Response("the bench allows no other outbound request", { status: 502 });
    }
    if (random() < failureRate) {
      refused += 1;
      return Response.json({ code: 20503, message: "Service unavailable (injected)" }, { status: 503 });
    }
    await request.arrayBuffer();
    if (twilio) return Response.json({ sid: issue(sms, "SM"), status: "queued" }, { status: 201 });
    return Response.json({ id: issue(email, "em_") });
  }

  return {
    outboundService,
    /** The figures, given the provider ids the notification rows record. */
    figures: (recorded: Set<string>): ProviderFigures => ({
      sms_accepted: sms.size,
      email_accepted: email.size,
      sent_more_than_once: [...sms, ...email].filter((id) => !recorded.has(id)).length,
      refused_injected: refused,
      unexpected_requests: unexpected,
    }),
  };
}
