import type { Channel } from "../../channels";
import type { EmailMessage } from "../templates";

/**
 * Who a message goes out from: its clinic's sender identities (src/tenancy/clinic-settings.ts). A
 * message without one uses the provider's configured sender.
 */
export interface MessageSender {
  smsMessagingServiceSid: string | null;
  smsFrom: string | null;
  /** The consent key of the SMS sender (a Twilio 21610 opts the number out of this sender). */
  smsKey: string;
  emailFrom: string | null;
  emailReplyTo: string | null;
}

/** One rendered message to one recipient: an SMS body or an email, by channel. */
export type OutboundMessage = {
  notificationId: string;
  /** E.164 phone number or email address. Never logged. */
  to: string;
  sender?: MessageSender;
} & ({ channel: Extract<Channel, "sms">; sms: string } | { channel: Extract<Channel, "email">; email: EmailMessage });

/**
 * The message as stored in `send_attempt` while a provider call's outcome is unknown: the
 * destination and the body, exactly as handed to the provider (the notification id is the row's).
 */
export function sendAttemptOf(message: OutboundMessage): string {
  return JSON.stringify(
    message.channel === "sms" ? { to: message.to, sms: message.sms } : { to: message.to, email: message.email },
  );
}

/** A stored `send_attempt` as the message it was, or null when there is none (or it is unreadable). */
export function readSendAttempt(
  stored: string | null,
  notificationId: string,
  channel: Channel,
): OutboundMessage | null {
  if (!stored) return null;
  let parsed: {
    to?: unknown;
    sms?: unknown;
    email?: { subject?: unknown; text?: unknown; html?: unknown; headers?: unknown };
  };
  try {
    parsed = JSON.parse(stored) as typeof parsed;
  } catch {
    return null;
  }
  if (typeof parsed.to !== "string") return null;
  if (channel === "sms")
    return typeof parsed.sms === "string" ? { notificationId, channel, to: parsed.to, sms: parsed.sms } : null;
  const { subject, text, html, headers } = parsed.email ?? {};
  if (typeof subject !== "string" || typeof text !== "string" || typeof html !== "string") return null;
  // The headers go out again exactly as stored, so a repeated send is the same payload.
  const sameHeaders = headers && typeof headers === "object" ? { headers: headers as Record<string, string> } : {};
  return { notificationId, channel, to: parsed.to, email: { subject, text, html, ...sameHeaders } };
}

/**
 * A provider's answer, classified: `transient` (an answer saying nothing was sent) is retried with
 * backoff, `permanent` marks the notification failed, `opted_out` (Twilio 21610) opts the number out
 * and suppresses it; `code` is the provider's error code when it gave one (Twilio's 21211 or 21614
 * mark the phone unreachable). `unknown` (a timeout or a lost answer) may or may not have sent: it is
 * retried, and the retry first asks the provider whether the message is there ({@link Provider.find}).
 */
export type SendResult =
  | { outcome: "sent"; providerMessageId: string | null }
  | { outcome: "transient" | "permanent" | "opted_out" | "unknown"; reason: string; code?: number };

/**
 * What a provider's records say about a message we may have sent: the ids of the messages that match
 * it, earliest first (another notification may have sent the same text to the same number, so the
 * caller picks the earliest no other row records), or that it is not there.
 */
export type FindResult = { found: true; providerMessageIds: string[] } | { found: false } | { failed: string };

export interface Provider {
  readonly name: "twilio" | "resend" | "log";
  send(message: OutboundMessage): Promise<SendResult>;
  /**
   * Looks for `message` among those sent to its recipient since `since`. Only providers without an
   * idempotency key need it (Twilio); the others repeat a send safely.
   */
  find?(message: OutboundMessage, since: Date): Promise<FindResult>;
}

/** How long a provider call may take before it counts as a (transient) timeout. */
export const PROVIDER_TIMEOUT_MS = 10_000;

/** 429 and 5xx are worth retrying; any other 4xx will fail the same way again. */
export function classifyStatus(status: number): "transient" | "permanent" {
  return status === 429 || status >= 500 ? "transient" : "permanent";
}

/**
 * A network error or timeout from `fetch`: the request may have reached the provider and been
 * accepted with only the answer lost, so the outcome is `unknown`, never a failure.
 */
export function networkFailure(error: unknown): SendResult {
  const timedOut = error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError");
  return { outcome: "unknown", reason: timedOut ? "timeout" : "network error" };
}

/**
 * A provider's error text with contact details removed: providers quote the phone number or
 * address they rejected, and the reason is stored and shown to staff.
 */
export function redactContacts(text: string): string {
  return text
    .replace(/[^\s@<>()"']+@[^\s@<>()"']+/g, "[redacted]")
    .replace(/\+?\d[\d\s().-]{5,}\d/g, "[redacted]")
    .slice(0, 300);
}
