/**
 * Twilio and Resend as the pipeline parts see them: the Worker gets (fake) credentials, so its real
 * provider code runs, and Miniflare's `outboundService` answers every outbound request here, so
 * nothing leaves the machine. The fakes behave as the real APIs do where it matters for duplicates:
 *
 * - Twilio: `POST .../Messages.json` creates a message (a fresh `sid`); `GET .../Messages.json` is the
 *   Messages list, filtered by `To` and `DateSent>` (on or after that UTC day), newest first, in
 *   Twilio's page shape. A lookup creates nothing.
 * - Resend: `POST /emails` honours `Idempotency-Key` for 24 hours: the same key with the same payload
 *   answers the first email's id and sends nothing; the same key with another payload is refused
 *   (409 `invalid_idempotent_request`) and sends nothing.
 *
 * Every message actually sent gets a provider id; the sender records the id of each message it sent
 * in its notification row, so a sent id that no row holds is a message whose outcome was lost and
 * that was sent again: a patient messaged twice. At `failureRate` a request (send or lookup) is
 * refused before being processed (503, a transient provider failure the sender must retry).
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
  /**
   * Of those, the SMS with a word-for-word twin to the same number that a row does record: two
   * notifications' identical texts, both sent, whose rows both recorded one of them (a mix-up of ids,
   * not a second message), or a true second send of one text; `provider_ids_recorded_twice` tells which.
   */
  unrecorded_with_recorded_twin: number;
  /** Provider ids that more than one notification row records. */
  provider_ids_recorded_twice: number;
  refused_injected: number;
  /** Requests to anywhere but the two providers (answered 502; should be 0). */
  unexpected_requests: number;
  /** Twilio Messages list lookups (after an unknown outcome); they send nothing. */
  twilio_lookups: number;
  /** Resend requests answered from an earlier email under the same Idempotency-Key; nothing sent. */
  resend_idempotent_repeats: number;
}

/** Resend keeps an idempotency key this long. */
const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;

interface TwilioMessage {
  sid: string;
  to: string;
  body: string;
  dateSent: Date;
}

/** A fresh pair of fakes; `failureRate` in [0, 1]. */
export function providerFakes(failureRate: number, random: () => number = Math.random) {
  const sms: TwilioMessage[] = [];
  const email = new Set<string>();
  const emailsByKey = new Map<string, { id: string; payload: string; at: number }>();
  let refused = 0;
  let unexpected = 0;
  let lookups = 0;
  let idempotentRepeats = 0;

  function twilioJson(accountSid: string, message: TwilioMessage, status: string) {
    const date = message.dateSent.toUTCString().replace("GMT", "+0000");
    return {
      account_sid: accountSid,
      api_version: "2010-04-01",
      body: message.body,
      date_created: date,
      date_sent: date,
      date_updated: date,
      direction: "outbound-api",
      sid: message.sid,
      status,
      to: message.to,
      uri: `/2010-04-01/Accounts/${accountSid}/Messages/${message.sid}.json`,
    };
  }

  async function twilio(request: Request, url: URL): Promise<Response> {
    const accountSid = url.pathname.split("/")[3] ?? "";
    if (request.method === "GET") {
      lookups += 1;
      const to = url.searchParams.get("To");
      const since = url.searchParams.get("DateSent>");
      const messages = sms
        .filter(
          (message) => (!to || message.to === to) && (!since || message.dateSent.toISOString().slice(0, 10) >= since),
        )
        .reverse()
        .map((message) => twilioJson(accountSid, message, "sent"));
      return Response.json({ messages, next_page_uri: null, page: 0, page_size: messages.length, uri: url.pathname });
    }
    const form = new URLSearchParams(await request.text());
    const message: TwilioMessage = {
      sid: `SM${crypto.randomUUID().replaceAll("-", "")}`,
      to: form.get("To") ?? "",
      body: form.get("Body") ?? "",
      dateSent: new Date(),
    };
    sms.push(message);
    return Response.json(twilioJson(accountSid, message, "queued"), { status: 201 });
  }

  async function resend(request: Request): Promise<Response> {
    const payload = await request.text();
    const key = request.headers.get("idempotency-key");
    const now = Date.now();
    const earlier = key ? emailsByKey.get(key) : undefined;
    if (earlier && now - earlier.at < IDEMPOTENCY_WINDOW_MS) {
      idempotentRepeats += 1;
      if (earlier.payload !== payload)
        return Response.json(
          { statusCode: 409, name: "invalid_idempotent_request", message: "Same idempotency key, another payload." },
          { status: 409 },
        );
      return Response.json({ id: earlier.id });
    }
    const id = `em_${crypto.randomUUID().replaceAll("-", "")}`;
    email.add(id);
    if (key) emailsByKey.set(key, { id, payload, at: now });
    return Response.json({ id });
  }

  async function outboundService(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const isTwilio = url.hostname === "api.twilio.com" && url.pathname.endsWith("/Messages.json");
    const isResend = url.hostname === "api.resend.com" && url.pathname === "/emails" && request.method === "POST";
    if (!isTwilio && !isResend) {
      unexpected += 1;
      return new Response("the bench allows no other outbound request", { status: 502 });
    }
    if (random() < failureRate) {
      refused += 1;
      return Response.json({ code: 20503, message: "Service unavailable (injected)" }, { status: 503 });
    }
    return isTwilio ? twilio(request, url) : resend(request);
  }

  return {
    outboundService,
    /** The figures, given the provider id each notification row records (one entry per row). */
    figures: (recordedIds: readonly string[]): ProviderFigures => {
      const recorded = new Set(recordedIds);
      const unrecordedSms = sms.filter((message) => !recorded.has(message.sid));
      const twinRecorded = (message: TwilioMessage) =>
        sms.some(
          (other) =>
            other !== message && other.to === message.to && other.body === message.body && recorded.has(other.sid),
        );
      return {
        sms_accepted: sms.length,
        email_accepted: email.size,
        sent_more_than_once: unrecordedSms.length + [...email].filter((id) => !recorded.has(id)).length,
        unrecorded_with_recorded_twin: unrecordedSms.filter(twinRecorded).length,
        provider_ids_recorded_twice: recordedIds.length - recorded.size,
        refused_injected: refused,
        unexpected_requests: unexpected,
        twilio_lookups: lookups,
        resend_idempotent_repeats: idempotentRepeats,
      };
    },
  };
}
