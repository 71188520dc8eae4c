import { Hono, type MiddlewareHandler } from "hono";
import type { Locale } from "../../channels";
import { readNotificationSettings, readTwilioWebhookSettings } from "../../config/notifications";
import { ConfigError } from "../../config/read";
import { phoneOutcomeStatements } from "../../consent/phone-outcomes";
import { optInToSender } from "../../db/clinics";
import { recordInboundReply } from "../../db/inbound-replies";
import { applyDeliveryReport } from "../../db/notification-sends";
import { localeOfPhone, optInPhone, recordSmsOptOut } from "../../db/patients";
import { log } from "../../log";
import { inboundIntent } from "../../notify/inbound-words";
import { markup } from "../../notify/markup";
import { TWILIO_UNSUBSCRIBED } from "../../notify/providers/twilio";
import { TEXT } from "../../notify/template-text";
import { isValidTwilioSignature } from "../../notify/twilio-signature";
import { clinicsOfSender, loadClinics } from "../../tenancy/clinics";
import { refuseRefusedClient, rejectAuthentication } from "../middleware/auth-failure";
import { bodyCap } from "../middleware/body-cap";
import type { App } from "../types";

/** Runs some statements together, when there are any. */
async function runAll(db: D1Database, statements: D1PreparedStatement[]): Promise<void> {
  if (statements.length > 0) await db.batch(statements);
}

/** The Twilio routes' failure-limiter scope. */
const TWILIO_SCOPE = "twilio-auth";

type TwilioApp = App & { Variables: App["Variables"] & { twilioParams: Record<string, string> } };

/**
 * Verifies `X-Twilio-Signature` against the URL Twilio called (and the same path under
 * PUBLIC_BASE_URL, for a receiver behind a tunnel or proxy). 403 otherwise, before anything changes;
 * repeated failures from one client 429, and a refused client 429 before any check for the rest of
 * the window, as at the NovaMed edge.
 */
function twilioSignatureAuth(): MiddlewareHandler<TwilioApp> {
  return async function twilioSignatureAuth(c, next) {
    const { authTokens, publicBaseUrl } = readTwilioWebhookSettings(c.env);
    refuseRefusedClient(c, TWILIO_SCOPE);
    if (authTokens.length === 0)
      log.warn("twilio webhook without TWILIO_AUTH_TOKEN", { request_id: c.get("requestId") });
    const form = await c.req.parseBody().catch(() => ({}));
    const params = Object.fromEntries(
      Object.entries(form).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
    );
    const url = new URL(c.req.url);
    const urls = [c.req.url, ...(publicBaseUrl ? [`${publicBaseUrl}${url.pathname}${url.search}`] : [])];
    if (!(await isValidTwilioSignature(authTokens, c.req.header("x-twilio-signature"), urls, params))) {
      return rejectAuthentication(c, TWILIO_SCOPE, {
        status: 403,
        code: "forbidden",
        message: "The Twilio signature is missing or invalid.",
      });
    }
    c.set("twilioParams", params);
    await next();
  };
}

/** A TwiML answer: one reply message, or none. */
function twiml(message?: string): Response {
  const body = message ? markup`<Message>${message}</Message>` : "";
  return new Response(`<?xml version="1.0" encoding="UTF-8"?><Response>${body}</Response>`, {
    headers: { "content-type": "text/xml; charset=utf-8" },
  });
}

/** The clinic an inbound text reached, as its reply speaks for it. */
interface ReceivingClinic {
  clinicName: string;
  clinicPhone: string | null;
  /** The clinic when exactly one sends from the number; null otherwise. */
  clinicId: string | null;
  /** Every clinic sending from the number (whose directories know the patient's language); null when none does. */
  clinicIds: string[] | null;
  defaultLocale: Locale;
  senderKey: string | null;
}

/**
 * Who an inbound text was sent to: the clinic whose SMS sender received it (its name, phone and
 * language for the reply) and that sender's consent key. Clinics sharing the sender share the key, and
 * the reply names the default clinic; a number no clinic sends from has no key (its STOP stops every
 * sender), and is the only clinic's when one is configured. A setting that cannot be read must not cost a patient's STOP (Twilio does not retry an
 * inbound webhook): the reply then names no clinic and the STOP stops every sender.
 */
async function receivingClinic(env: Env, params: Record<string, string>): Promise<ReceivingClinic> {
  try {
    const base = readNotificationSettings(env);
    const clinics = await loadClinics(env);
    const matched = clinicsOfSender(clinics, {
      messagingServiceSid: params.MessagingServiceSid,
      to: params.To,
    });
    // With one clinic configured every number it is texted at is its own, sender set or not.
    const receivers = matched?.clinics ?? (clinics.length === 1 ? clinics : null);
    const [only, ...others] = receivers ?? [];
    const single = only && others.length === 0 ? only : null;
    const speaker = single ?? base;
    return {
      clinicName: speaker.clinicName,
      clinicPhone: speaker.clinicPhone,
      clinicId: single?.clinicId ?? null,
      clinicIds: receivers ? receivers.map((clinic) => clinic.clinicId) : null,
      defaultLocale: single?.defaultLocale ?? "en",
      senderKey: matched?.senderKey ?? null,
    };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    log.warn("twilio reply without clinic settings", { variable: error.variable });
    return {
      clinicName: "Your clinic",
      clinicPhone: null,
      clinicId: null,
      clinicIds: null,
      defaultLocale: "en",
      senderKey: null,
    };
  }
}

/** `/webhooks/twilio`: inbound SMS (consent keywords) and delivery status callbacks. */
export const twilioWebhooks = new Hono<TwilioApp>();
/**
 * Twilio's webhook forms, capped before the signature is checked. Larger than the 8 KiB of the
 * console's form on purpose: an inbound SMS may carry 1,600 characters, which percent-encode to
 * about 14 KiB in a non-Latin script (3 bytes each, 3 characters per byte), plus about 3 KiB of
 * Twilio's other fields and media URLs; a smaller cap would lose a patient's long reply.
 */
export const TWILIO_MAX_BODY_BYTES = 32 * 1024;
twilioWebhooks.use(bodyCap(TWILIO_MAX_BODY_BYTES, "The body is larger than 32 KiB."));
twilioWebhooks.use(twilioSignatureAuth());

twilioWebhooks.post("/inbound", async (c) => {
  const params = c.get("twilioParams");
  const { From: from, Body: body = "" } = params;
  const intent = inboundIntent(body);
  const clinic = await receivingClinic(c.env, params);
  const now = new Date().toISOString();
  // The patient's language when the directory knows it, else the language they wrote in, else the
  // clinic's. Read after any consent write and never fatal: a reply in the clinic's language beats a
  // lost STOP (Twilio does not retry an inbound webhook).
  const words = async (spoken: Locale | null = null) => {
    const known = from ? await localeOfPhone(c.env.DB, from, clinic.clinicIds).catch(() => null) : null;
    return TEXT[known ?? spoken ?? clinic.defaultLocale];
  };
  if (from && intent.kind === "opt_out") {
    // Consent follows the sender: a STOP to one clinic's own number stops that clinic's texts only.
    // A plain-words revocation takes the same path, with its own source.
    const source = intent.keyword === "revoked" ? "revoked" : "keyword";
    await recordSmsOptOut(c.env.DB, from, clinic.senderKey, source, now).run();
    log.info("sms opt-out", { request_id: c.get("requestId"), keyword: intent.keyword });
    return twiml((await words(intent.locale)).optedOut(clinic.clinicName));
  }
  if (from && intent.kind === "opt_in") {
    // START lifts this sender's opt-out and any opt-out of every sender (a STOP to an unknown number,
    // or one from before consent was kept per sender).
    await c.env.DB.batch([
      optInPhone(c.env.DB, from),
      ...(clinic.senderKey ? [optInToSender(c.env.DB, from, clinic.senderKey)] : []),
    ]);
    log.info("sms opt-in", { request_id: c.get("requestId"), keyword: intent.keyword });
    return twiml((await words()).optedIn(clinic.clinicName));
  }
  if (intent.kind === "help") return twiml((await words()).help(clinic.clinicName, clinic.clinicPhone));
  if (from && body.trim() !== "") {
    // A reply for a person: kept for an operator to read, and staff are told (without the text).
    const replyId = `rpl_${crypto.randomUUID().replaceAll("-", "")}`;
    await c.env.DB.batch(
      recordInboundReply(c.env.DB, {
        reply_id: replyId,
        clinic_id: clinic.clinicId,
        phone: from,
        body,
        received_at: now,
      }),
    );
    log.info("sms reply for staff", { request_id: c.get("requestId"), reply_id: replyId });
  }
  return twiml();
});

/**
 * Twilio's message statuses as ours: `sent` once Twilio handed it on, then `delivered` or `failed`
 * (`undelivered` or `failed`). Earlier ones (`accepted`, `queued`, `sending`) change nothing.
 */
const REPORTED_STATUSES: Record<string, "sent" | "delivered" | "failed"> = {
  sent: "sent",
  delivered: "delivered",
  undelivered: "failed",
  failed: "failed",
};

twilioWebhooks.post("/status", async (c) => {
  const { MessageSid: sid, MessageStatus: status, ErrorCode: errorCode } = c.get("twilioParams");
  const reported = status ? REPORTED_STATUSES[status] : undefined;
  if (sid && reported) {
    const now = new Date().toISOString();
    // Our StatusCallback URL carries the notification id: a report that arrives before the send's
    // outcome is recorded still finds its row.
    const notificationId = c.req.query("notification_id") ?? null;
    const row = await applyDeliveryReport(
      c.env.DB,
      {
        notificationId,
        providerMessageId: sid,
        status: reported,
        error: reported === "failed" ? `twilio ${status}${errorCode ? ` ${errorCode}` : ""}` : null,
      },
      now,
    );
    if (row && errorCode)
      await runAll(
        c.env.DB,
        phoneOutcomeStatements(c.env.DB, row.notification_id, c.get("twilioParams").To ?? null, Number(errorCode), now),
      );
    if (row && Number(errorCode) === TWILIO_UNSUBSCRIBED) {
      // The patient opted out of the sender this text came from (its From or Messaging Service).
      const params = c.get("twilioParams");
      const phone = params.To;
      const { senderKey } = await receivingClinic(c.env, {
        MessagingServiceSid: params.MessagingServiceSid ?? "",
        To: params.From ?? "",
      });
      if (phone) await recordSmsOptOut(c.env.DB, phone, senderKey, "twilio_21610", now).run();
    }
    log.info("sms delivery report", {
      request_id: c.get("requestId"),
      notification_id: row?.notification_id ?? notificationId,
      status: reported,
      applied: row !== null,
    });
  }
  return c.body(null, 204);
});
