import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { type ContactOptOut, optOutContactOfNotification } from "../db/consent";
import { type DeliveryReport, deliveryReportStatement } from "../db/notification-sends";

/**
 * Resend's webhooks (Svix, i.e. Standard Webhooks: `svix-id`, `svix-timestamp`, `svix-signature`,
 * an HMAC-SHA-256 with the `whsec_…` secret) and what each event changes: the notification's delivery
 * status, forward only as with Twilio's reports, and for a permanent bounce or a complaint the
 * patient's email consent for that address.
 */

/** The fields of a Resend event we read (https://resend.com/docs/webhooks/introduction). */
export interface ResendEvent {
  type: string;
  data?: {
    email_id?: unknown;
    to?: unknown;
    bounce?: { type?: unknown; subType?: unknown };
  };
}

/**
 * The event, when the signature checks out with `secret` and its timestamp is within 5 minutes of
 * now (either way; the library's tolerance); null otherwise. Never throws for a bad request.
 */
export function verifyResendEvent(secret: string, body: string, headers: Headers): ResendEvent | null {
  let webhook: Webhook;
  try {
    webhook = new Webhook(secret);
  } catch {
    return null;
  }
  try {
    const event = webhook.verify(body, {
      "webhook-id": headers.get("svix-id") ?? "",
      "webhook-timestamp": headers.get("svix-timestamp") ?? "",
      "webhook-signature": headers.get("svix-signature") ?? "",
    }) as unknown;
    return event && typeof event === "object" && typeof (event as ResendEvent).type === "string"
      ? (event as ResendEvent)
      : null;
  } catch (error) {
    // A malformed body after a valid signature is Resend's bug, not an attacker's: still refused.
    if (error instanceof WebhookVerificationError || error instanceof SyntaxError) return null;
    throw error;
  }
}

/** What a Resend event changes, by type; an event not listed changes nothing. */
export function emailOutcomeOf(
  event: ResendEvent,
): { report: Omit<DeliveryReport, "providerMessageId" | "notificationId">; optOut: ContactOptOut | null } | null {
  const recipient = Array.isArray(event.data?.to) && typeof event.data.to[0] === "string" ? event.data.to[0] : null;
  const optOut = (reason: "bounced" | "complained", detail: string): ContactOptOut | null =>
    recipient ? { channel: "email", contact: recipient, reason, detail } : null;
  const report = (status: DeliveryReport["status"], error: string | null) => ({
    status,
    error,
    channel: "email" as const,
    provider: "resend" as const,
  });
  switch (event.type) {
    case "email.delivered":
      return { report: report("delivered", null), optOut: null };
    case "email.delivery_delayed":
      // Still on its way: it was sent, nothing more is known.
      return { report: report("sent", null), optOut: null };
    case "email.bounced": {
      const type = typeof event.data?.bounce?.type === "string" ? event.data.bounce.type : "Undetermined";
      const subType = typeof event.data?.bounce?.subType === "string" ? event.data.bounce.subType : null;
      const detail = `resend bounce ${type}${subType ? `/${subType}` : ""}`
        .replace(/[^A-Za-z0-9 /_-]/g, "")
        .slice(0, 80);
      // Only a permanent bounce says the address is dead; a transient one (mailbox full) fails this
      // email and leaves the address in use.
      return { report: report("failed", detail), optOut: type === "Permanent" ? optOut("bounced", detail) : null };
    }
    case "email.complained":
      // A complaint comes from the inbox, so the email was delivered.
      return { report: report("delivered", null), optOut: optOut("complained", "resend complaint") };
    default:
      return null;
  }
}

/**
 * The statements for a verified event about the email `emailId` (Resend's id, recorded as the
 * notification's provider message id): the delivery report (returning the row it changed) and the
 * opt-out, if any. Both match nothing for an email we do not know.
 */
export function emailOutcomeStatements(
  db: D1Database,
  emailId: string,
  outcome: NonNullable<ReturnType<typeof emailOutcomeOf>>,
  now: string,
): D1PreparedStatement[] {
  return [
    deliveryReportStatement(db, { ...outcome.report, notificationId: null, providerMessageId: emailId }, now),
    ...(outcome.optOut
      ? [optOutContactOfNotification(db, { providerMessageId: emailId, channel: "email" }, outcome.optOut, now)]
      : []),
  ];
}
