import type { TwilioSettings } from "../../config/providers";
import {
  classifyStatus,
  type FindResult,
  networkFailure,
  type OutboundMessage,
  PROVIDER_TIMEOUT_MS,
  type Provider,
  redactContacts,
  type SendResult,
} from "./provider";

/** Twilio's error for a recipient who replied STOP: the number is opted out at once. */
export const TWILIO_UNSUBSCRIBED = 21610;

interface TwilioError {
  code?: number;
  message?: string;
  status?: number;
}

/** The fields of Twilio's Message resource that a lookup compares. */
interface TwilioMessage {
  sid: string;
  to: string;
  body: string;
  direction: string;
  status: string;
  /** RFC 2822, to the second. */
  date_created: string;
}

/** Twilio's clock against ours, and its dates' whole seconds. */
const CLOCK_SKEW_MS = 5_000;

/**
 * SMS through Twilio's Messages API with plain `fetch` (Twilio's Node SDK does not run on workerd):
 * Basic auth (the first of the auth tokens), a form-encoded body with `To`, `Body`,
 * `MessagingServiceSid` or `From`, and `StatusCallback` carrying our notification id, so a delivery
 * report is matched even when it arrives before the send's outcome is recorded.
 */
export function twilioProvider(settings: TwilioSettings): Provider {
  const url = `https://api.twilio.com/2010-04-01/Accounts/${encodeURIComponent(settings.accountSid)}/Messages.json`;
  const authorization = `Basic ${btoa(`${settings.accountSid}:${settings.authTokens[0]}`)}`;
  return {
    name: "twilio",
    async send(message: OutboundMessage): Promise<SendResult> {
      if (message.channel !== "sms") return { outcome: "permanent", reason: "twilio sends SMS only" };
      const form = new URLSearchParams({ To: message.to, Body: message.sms });
      // The clinic's own sender when it has one (a message carries its clinic's identities).
      const messagingServiceSid = message.sender ? message.sender.smsMessagingServiceSid : settings.messagingServiceSid;
      const from = message.sender ? message.sender.smsFrom : settings.from;
      if (messagingServiceSid) form.set("MessagingServiceSid", messagingServiceSid);
      else if (from) form.set("From", from);
      if (settings.statusCallbackUrl)
        form.set(
          "StatusCallback",
          `${settings.statusCallbackUrl}?notification_id=${encodeURIComponent(message.notificationId)}`,
        );
      let response: Response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: {
            Authorization: authorization,
            "Content-Type": "application/x-www-form-urlencoded",
            Accept: "application/json",
          },
          body: form,
          signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
        });
      } catch (error) {
        return networkFailure(error);
      }
      const body = (await response.json().catch(() => ({}))) as TwilioError & { sid?: string };
      if (response.ok) return { outcome: "sent", providerMessageId: body.sid ?? null };
      const reason = `twilio ${body.code ?? response.status}: ${redactContacts(body.message ?? response.statusText)}`;
      if (body.code === TWILIO_UNSUBSCRIBED) return { outcome: "opted_out", reason };
      return { outcome: classifyStatus(response.status), reason, ...(body.code ? { code: body.code } : {}) };
    },

    /**
     * Twilio has no idempotency key, so after an unknown outcome we ask before sending again: the
     * Messages list filtered by `To` and `DateSent>=` the day the first attempt started (UTC),
     * matched on the exact body we sent, created since our first attempt began (all such, earliest
     * first). One page of 50 is enough: a patient gets a few texts a day.
     */
    async find(message: OutboundMessage, since: Date): Promise<FindResult> {
      if (message.channel !== "sms") return { found: false };
      const query = new URLSearchParams({
        To: message.to,
        "DateSent>": since.toISOString().slice(0, 10),
        PageSize: "50",
      });
      let response: Response;
      try {
        response = await fetch(`${url}?${query}`, {
          headers: { Authorization: authorization, Accept: "application/json" },
          signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
        });
      } catch {
        return { failed: "twilio lookup network error" };
      }
      if (!response.ok) return { failed: `twilio lookup ${response.status}` };
      const page = (await response.json().catch(() => ({}))) as { messages?: TwilioMessage[] };
      // The list is newest first. Another notification may carry the same text to the same number
      // (two orders shipped alike): every match created since our first attempt began, earliest
      // first; the sender takes the earliest that no other notification records.
      const notBefore = since.getTime() - CLOCK_SKEW_MS;
      const matches = (page.messages ?? [])
        .filter(
          (sent) =>
            sent.direction.startsWith("outbound") &&
            sent.to === message.to &&
            sent.body === message.sms &&
            Date.parse(sent.date_created) >= notBefore,
        )
        .reverse()
        .map((sent) => sent.sid);
      return matches.length > 0 ? { found: true, providerMessageIds: matches } : { found: false };
    },
  };
}
