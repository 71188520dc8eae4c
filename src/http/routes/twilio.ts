import { Hono, type MiddlewareHandler } from "hono";
import { readNotificationSettings, readTwilioWebhookSettings } from "../../config/notifications";
import { ConfigError } from "../../config/read";
import { phoneOutcomeStatements } from "../../consent/phone-outcomes";
import { optInToSender, optOutOfSender } from "../../db/clinics";
import { applyDeliveryReport } from "../../db/notification-sends";
import { optInPhone, optOutPhone } from "../../db/patients";
import { log } from "../../log";
import { markup } from "../../notify/markup";
import { TWILIO_UNSUBSCRIBED } from "../../notify/providers/twilio";
import { isValidTwilioSignature } from "../../notify/twilio-signature";
import { clinicsOfSender, loadClinics } from "../../tenancy/clinics";
import { refuseRefusedClient, rejectAuthentication } from "../middleware/auth-failure";
import { bodyCap } from "../middleware/body-cap";
import type { App } from "../types";

/** Carrier-standard opt-out and opt-in keywords (Twilio's defaults). */
export const OPT_OUT_KEYWORDS = new Set([
  "STOP",
  "STOPALL",
  "UNSUBSCRIBE",
  "CANCEL",
  "END",
  "QUIT",
  "REVOKE",
  "OPTOUT",
]);
export const OPT_IN_KEYWORDS = new Set(["START", "UNSTOP", "YES"]);
export const HELP_KEYWORDS = new Set(["HELP", "INFO"]);

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

/**
 * Who an inbound text was sent to: the clinic whose SMS sender received it (its name and phone for the
 * reply) and that sender's consent key. Clinics sharing the sender share the key, and the reply names
 * the default clinic; a number no clinic sends from has no key (its STOP stops every sender). A
 * setting that cannot be read must not cost a patient's STOP (Twilio does not retry an inbound
 * webhook): the reply then names no clinic and the STOP stops every sender.
 */
async function receivingClinic(
  env: Env,
  params: Record<string, string>,
): Promise<{ clinicName: string; clinicPhone: string | null; senderKey: string | null }> {
  try {
    const base = readNotificationSettings(env);
    const matched = clinicsOfSender(await loadClinics(env), {
      messagingServiceSid: params.MessagingServiceSid,
      to: params.To,
    });
    const [only, ...others] = matched?.clinics ?? [];
    const speaker = only && others.length === 0 ? only : base;
    return { clinicName: speaker.clinicName, clinicPhone: speaker.clinicPhone, senderKey: matched?.senderKey ?? null };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    log.warn("twilio reply without clinic settings", { variable: error.variable });
    return { clinicName: "Your clinic", clinicPhone: null, senderKey: null };
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
  const { From: from, Body: body } = params;
  const keyword = (body ?? "")
    .trim()
    .toUpperCase()
    .replace(/[^A-Z]/g, "");
  const { clinicName, clinicPhone, senderKey } = await receivingClinic(c.env, params);
  const now = new Date().toISOString();
  if (from && OPT_OUT_KEYWORDS.has(keyword)) {
    // Consent follows the sender: a STOP to one clinic's own number stops that clinic's texts only.
    await (senderKey
      ? optOutOfSender(c.env.DB, from, senderKey, "keyword", now)
      : optOutPhone(c.env.DB, from, "keyword", now)
    ).run();
    log.info("sms opt-out", { request_id: c.get("requestId"), keyword });
    return twiml(`${clinicName}: you are unsubscribed and will receive no more texts. Reply START to resubscribe.`);
  }
  if (from && OPT_IN_KEYWORDS.has(keyword)) {
    // START lifts this sender's opt-out and any opt-out of every sender (a STOP to an unknown number,
    // or one from before consent was kept per sender).
    await c.env.DB.batch([
      optInPhone(c.env.DB, from),
      ...(senderKey ? [optInToSender(c.env.DB, from, senderKey)] : []),
    ]);
    log.info("sms opt-in", { request_id: c.get("requestId"), keyword });
    return twiml(`${clinicName}: you are resubscribed to texts about your orders. Reply STOP to opt out.`);
  }
  if (HELP_KEYWORDS.has(keyword)) {
    const contact = clinicPhone ? `call ${clinicPhone}` : "contact your clinic";
    return twiml(`${clinicName}: for help, ${contact}. Reply STOP to opt out.`);
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
      if (phone)
        await (senderKey
          ? optOutOfSender(c.env.DB, phone, senderKey, "twilio_21610", now)
          : optOutPhone(c.env.DB, phone, "twilio_21610", now)
        ).run();
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
