import type { TwilioSettings } from "../../config/providers";
import {
  classifyStatus,
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

/**
 * SMS through Twilio's Messages API with plain `fetch` (Twilio's Node SDK does not run on workerd):
 * Basic auth, a form-encoded body with `To`, `Body`, `MessagingServiceSid` or `From`, and
 * `StatusCallback` so delivery reports reach /webhooks/twilio/status.
 */
export function twilioProvider(settings: TwilioSettings): Provider {
  const url = `https://api.twilio.com/2010-04-01/Accounts/${encodeURIComponent(settings.accountSid)}/Messages.json`;
  const authorization = `Basic ${btoa(`${settings.accountSid}:${settings.authTokens[0]}`)}`;
  return {
    name: "twilio",
    async send(message: OutboundMessage): Promise<SendResult> {
      if (message.channel !== "sms") return { outcome: "permanent", reason: "twilio sends SMS only" };
      const form = new URLSearchParams({ To: message.to, Body: message.sms });
      if (settings.messagingServiceSid) form.set("MessagingServiceSid", settings.messagingServiceSid);
      else if (settings.from) form.set("From", settings.from);
      if (settings.statusCallbackUrl) form.set("StatusCallback", settings.statusCallbackUrl);
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
      return { outcome: classifyStatus(response.status), reason };
    },
  };
}
