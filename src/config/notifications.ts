import { z } from "zod";
import { EVENT_TYPES, type EventType } from "../events/event-types";
import { isTimeZone } from "../time-zone";
import { optionalText, reportMissing, settingsReader, withDefault } from "./read";

/** The channels a patient is told on, and that `NOTIFICATION_RULES` may name. */
export const CHANNELS = ["sms", "email"] as const;
export type Channel = (typeof CHANNELS)[number];

/** The events that notify by default, on both channels. */
const DEFAULT_NOTIFICATION_RULES =
  "order:shipped=sms+email,order:delivered=sms+email,order:cancelled=sms+email,refill:approved=sms+email,refill:denied=sms+email";

const CLINIC_TIME_ZONE = "America/New_York";
const SMS_SEND_WINDOW = "08:00-21:00";

export interface TwilioSettings {
  accountSid: string;
  authToken: string;
  messagingServiceSid: string | null;
  from: string | null;
  /** Where Twilio posts delivery status; null when PUBLIC_BASE_URL is unset. */
  statusCallbackUrl: string | null;
}

export interface EmailSettings {
  apiKey: string;
  from: string;
}

/** A local time window in minutes since midnight: [start, end). */
export interface SendWindow {
  start: number;
  end: number;
}

/**
 * `NOTIFICATION_RULES`: `event_type=channel+channel,...`, or `none` to silence everything. Issues
 * name the problem, never echo the value.
 */
const notificationRules = z.string().transform((source, context) => {
  const rules = new Map<EventType, Channel[]>();
  if (source === "none") return rules;
  for (const entry of source.split(",")) {
    if (entry.trim() === "") continue;
    const [type, channels] = entry.split("=").map((part) => part.trim());
    const eventType = EVENT_TYPES.find((known) => known === type);
    if (!eventType || !channels) {
      context.addIssue({ code: "custom", message: "names an unknown event type or lacks '=channels'" });
      return z.NEVER;
    }
    const list = channels.split("+").map((channel) => channel.trim());
    const known = list.filter((channel): channel is Channel => (CHANNELS as readonly string[]).includes(channel));
    if (known.length !== list.length) {
      context.addIssue({ code: "custom", message: "names a channel other than sms or email" });
      return z.NEVER;
    }
    rules.set(eventType, [...new Set(known)]);
  }
  return rules;
});

/** `SMS_SEND_WINDOW`: `HH:MM-HH:MM`, the start before the end. */
const sendWindow = z.string().transform((raw, context): SendWindow => {
  const match = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(raw);
  const start = match ? Number(match[1]) * 60 + Number(match[2]) : Number.NaN;
  const end = match ? Number(match[3]) * 60 + Number(match[4]) : Number.NaN;
  if (!(start < end && end <= 24 * 60)) {
    context.addIssue({ code: "custom", message: "must look like 08:00-21:00 with the start before the end" });
    return z.NEVER;
  }
  return { start, end };
});

/** `PUBLIC_BASE_URL` without a trailing slash, or null when unset. */
export const publicBaseUrl = optionalText.transform((url) => url?.replace(/\/+$/, "") ?? null);

const notificationSchema = z
  .object({
    CLINIC_TIMEZONE: withDefault(
      CLINIC_TIME_ZONE,
      z.string().refine(isTimeZone, { error: "is not an IANA time zone" }),
    ),
    TWILIO_ACCOUNT_SID: optionalText,
    TWILIO_AUTH_TOKEN: optionalText,
    TWILIO_MESSAGING_SERVICE_SID: optionalText,
    TWILIO_FROM_NUMBER: optionalText,
    PUBLIC_BASE_URL: publicBaseUrl,
    RESEND_API_KEY: optionalText,
    EMAIL_FROM: optionalText,
    CLINIC_NAME: withDefault("Your Clinic", z.string()),
    CLINIC_PHONE: optionalText,
    SMS_SEND_WINDOW: withDefault(SMS_SEND_WINDOW, sendWindow),
    NOTIFICATION_RULES: withDefault(DEFAULT_NOTIFICATION_RULES, notificationRules),
  })
  .superRefine((vars, context) => {
    // A channel is either fully configured or not at all: half a configuration is a mistake to report.
    if (vars.TWILIO_ACCOUNT_SID) {
      if (!vars.TWILIO_AUTH_TOKEN)
        reportMissing(context, "TWILIO_AUTH_TOKEN", "is not set although TWILIO_ACCOUNT_SID is");
      else if (!vars.TWILIO_MESSAGING_SERVICE_SID && !vars.TWILIO_FROM_NUMBER)
        reportMissing(
          context,
          "TWILIO_MESSAGING_SERVICE_SID",
          "or TWILIO_FROM_NUMBER must be set with TWILIO_ACCOUNT_SID",
        );
    }
    if (vars.RESEND_API_KEY && !vars.EMAIL_FROM)
      reportMissing(context, "EMAIL_FROM", "is not set although RESEND_API_KEY is");
  })
  .transform((vars) => ({
    clinicName: vars.CLINIC_NAME,
    clinicPhone: vars.CLINIC_PHONE,
    clinicTimezone: vars.CLINIC_TIMEZONE,
    /** The SMS send window in the patient's local time. */
    smsWindow: vars.SMS_SEND_WINDOW,
    /** The channels each event type notifies on; a type not in the map notifies nobody. */
    rules: vars.NOTIFICATION_RULES,
    /** Null: SMS goes to the log provider. */
    twilio: twilioSettings(vars),
    /** Null: email goes to the log provider. */
    email: vars.RESEND_API_KEY && vars.EMAIL_FROM ? { apiKey: vars.RESEND_API_KEY, from: vars.EMAIL_FROM } : null,
  }));

function twilioSettings(vars: {
  TWILIO_ACCOUNT_SID: string | null;
  TWILIO_AUTH_TOKEN: string | null;
  TWILIO_MESSAGING_SERVICE_SID: string | null;
  TWILIO_FROM_NUMBER: string | null;
  PUBLIC_BASE_URL: string | null;
}): TwilioSettings | null {
  if (!vars.TWILIO_ACCOUNT_SID || !vars.TWILIO_AUTH_TOKEN) return null;
  return {
    accountSid: vars.TWILIO_ACCOUNT_SID,
    authToken: vars.TWILIO_AUTH_TOKEN,
    messagingServiceSid: vars.TWILIO_MESSAGING_SERVICE_SID,
    from: vars.TWILIO_FROM_NUMBER,
    statusCallbackUrl: vars.PUBLIC_BASE_URL ? `${vars.PUBLIC_BASE_URL}/webhooks/twilio/status` : null,
  };
}

export type NotificationSettings = z.output<typeof notificationSchema>;

/**
 * The notification pipeline's settings. Channels without credentials use the log provider; partial
 * credentials are a ConfigError naming the missing variable.
 */
export const readNotificationSettings = settingsReader(notificationSchema);

const twilioWebhookSchema = z
  .object({ TWILIO_AUTH_TOKEN: optionalText, PUBLIC_BASE_URL: publicBaseUrl })
  .transform((vars) => ({ authToken: vars.TWILIO_AUTH_TOKEN, publicBaseUrl: vars.PUBLIC_BASE_URL }));

/**
 * What verifying Twilio's inbound webhooks needs: the auth token (null when Twilio is not configured)
 * and the public base URL Twilio may have signed. Needs nothing else to be valid, unlike
 * {@link readNotificationSettings}.
 */
export const readTwilioWebhookSettings = settingsReader(twilioWebhookSchema);
