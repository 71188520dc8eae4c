import { Hono } from "hono";
import { readConsentSettings } from "../../config/consent";
import { emailOutcomeOf, emailOutcomeStatements, verifyResendEvent } from "../../consent/email-outcomes";
import { log } from "../../log";
import { refuseRefusedClient, rejectAuthentication } from "../middleware/auth-failure";
import { bodyCap } from "../middleware/body-cap";
import type { App } from "../types";

/** The Resend route's failure-limiter scope. */
const RESEND_SCOPE = "resend-auth";

/** Resend's events are a few KiB (headers and tags included); a larger body is not one of them. */
export const RESEND_MAX_BODY_BYTES = 64 * 1024;

/**
 * `POST /webhooks/resend`: Resend's email events, signed with `RESEND_WEBHOOK_SECRET`. A missing or
 * bad signature, or a timestamp more than 5 minutes off, is 401 before anything changes (and counts
 * towards the failure limit, as at the other webhooks). A signed event about an email we do not know
 * is 200 and ignored: anything else makes Resend retry it for days.
 */
export const resendWebhook = new Hono<App>();
resendWebhook.use(bodyCap(RESEND_MAX_BODY_BYTES, "The body is larger than 64 KiB."));

resendWebhook.post("/", async (c) => {
  refuseRefusedClient(c, RESEND_SCOPE);
  const { resendWebhookSecret } = readConsentSettings(c.env);
  if (!resendWebhookSecret)
    log.warn("resend webhook without RESEND_WEBHOOK_SECRET", { request_id: c.get("requestId") });
  const body = await c.req.text();
  const event = resendWebhookSecret ? verifyResendEvent(resendWebhookSecret, body, c.req.raw.headers) : null;
  if (!event) return rejectAuthentication(c, RESEND_SCOPE, { message: "The Resend signature is missing or invalid." });
  const emailId = typeof event.data?.email_id === "string" ? event.data.email_id : null;
  const outcome = emailOutcomeOf(event);
  if (!emailId || !outcome) {
    log.info("resend event ignored", { request_id: c.get("requestId"), type: event.type.slice(0, 40) });
    return c.json({ received: true });
  }
  const now = new Date().toISOString();
  const [report, optOut] = await c.env.DB.batch(emailOutcomeStatements(c.env.DB, emailId, outcome, now));
  const row = (report?.results[0] as { notification_id?: string } | undefined) ?? null;
  log.info("email delivery report", {
    request_id: c.get("requestId"),
    notification_id: row?.notification_id ?? null,
    type: event.type,
    applied: row !== null,
    opted_out: (optOut?.meta.changes ?? 0) > 0,
  });
  return c.json({ received: true });
});
