import type { EmailSettings } from "../../config/providers";
import { sha256Hex } from "../../sha256";
import {
  classifyStatus,
  networkFailure,
  type OutboundMessage,
  PROVIDER_TIMEOUT_MS,
  type Provider,
  redactContacts,
  type SendResult,
} from "./provider";

interface ResendError {
  statusCode?: number;
  name?: string;
  message?: string;
}

/** What Resend takes as an `Idempotency-Key` (1 to 256 characters) and a header value carries as is. */
const PLAIN_KEY = /^[\x21-\x7e]{1,256}$/;

/**
 * The `Idempotency-Key` of a notification: its id, which is the same on every try. A notification's
 * id holds its event's (`ntf_<event_id>.<channel>`, migration 0186), and NovaMed's event ids may be up
 * to 200 characters of any kind: an id a header cannot carry as is (a space, a character beyond ASCII)
 * is keyed by its SHA-256 instead, the same on every try too.
 */
export async function emailIdempotencyKey(notificationId: string): Promise<string> {
  if (PLAIN_KEY.test(notificationId)) return notificationId;
  return `ntf-sha256-${await sha256Hex(notificationId)}`;
}

/**
 * Email through Resend's HTTP API (`POST /emails`). The notification id is the `Idempotency-Key`
 * ({@link emailIdempotencyKey}), so a send retried after a crash, within Resend's 24-hour window,
 * never delivers a second email.
 */
export function resendProvider(settings: EmailSettings): Provider {
  return {
    name: "resend",
    async send(message: OutboundMessage): Promise<SendResult> {
      if (message.channel !== "email") return { outcome: "permanent", reason: "resend sends email only" };
      const { email } = message;
      const idempotencyKey = await emailIdempotencyKey(message.notificationId);
      let response: Response;
      try {
        response = await fetch("https://api.resend.com/emails", {
          method: "POST",
          headers: {
            Authorization: `Bearer ${settings.apiKey}`,
            "Content-Type": "application/json",
            "Idempotency-Key": idempotencyKey,
          },
          body: JSON.stringify({
            from: message.sender?.emailFrom ?? settings.from,
            ...(message.sender?.emailReplyTo ? { reply_to: message.sender.emailReplyTo } : {}),
            to: [message.to],
            subject: email.subject,
            text: email.text,
            html: email.html,
            ...(email.headers ? { headers: email.headers } : {}),
          }),
          signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
        });
      } catch (error) {
        return networkFailure(error);
      }
      const body = (await response.json().catch(() => ({}))) as ResendError & { id?: string };
      if (response.ok) return { outcome: "sent", providerMessageId: body.id ?? null };
      const reason = `resend ${body.name ?? response.status}: ${redactContacts(body.message ?? response.statusText)}`;
      // 409: the same key is still being processed by a concurrent request; it will settle.
      if (response.status === 409 && body.name === "concurrent_idempotent_requests")
        return { outcome: "transient", reason };
      return { outcome: classifyStatus(response.status), reason };
    },
  };
}
