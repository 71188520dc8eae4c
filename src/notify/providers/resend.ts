import type { EmailSettings } from "../../config/providers";
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

/**
 * Email through Resend's HTTP API (`POST /emails`). The notification id is the `Idempotency-Key`, so
 * a send retried after a crash, within Resend's 24-hour window, never delivers a second email.
 */
export function resendProvider(settings: EmailSettings): Provider {
  return {
    name: "resend",
    async send(message: OutboundMessage): Promise<SendResult> {
      if (message.channel !== "email") return { outcome: "permanent", reason: "resend sends email only" };
      const { email } = message;
      let response: Response;
      try {
        response = await fetch("https://api.resend.com/emails", {
          method: "POST",
          headers: {
            Authorization: `Bearer ${settings.apiKey}`,
            "Content-Type": "application/json",
            "Idempotency-Key": message.notificationId,
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
