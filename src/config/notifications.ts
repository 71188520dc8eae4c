import { z } from "zod";
import { CHANNELS, type Channel } from "../channels";
import { EVENT_TYPES, type EventType } from "../event-types";
import { isTimeZone } from "../time-zone";
import { authTokenList, publicBaseUrl } from "./providers";
import { optionalText, settingsReader, withDefault } from "./read";

/** The events that notify by default, on both channels. */
const DEFAULT_NOTIFICATION_RULES =
  "order:shipped=sms+email,order:delivered=sms+email,order:cancelled=sms+email,refill:approved=sms+email,refill:denied=sms+email";

const CLINIC_TIME_ZONE = "America/New_York";
const SMS_SEND_WINDOW = "08:00-21:00";

/** A local time window in minutes since midnight: [start, end). */
export interface SendWindow {
  start: number;
  end: number;
}

/**
 * `NOTIFICATION_RULES`: `event_type=channel+channel,...`, or `none` to silence everything. Issues
 * name the problem, never echo the value.
 */
const notificationRules = () =>
  z.string().transform((source, context) => {
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
export const sendWindow = () =>
  z.string().transform((raw, context): SendWindow => {
    const match = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(raw);
    const start = match ? Number(match[1]) * 60 + Number(match[2]) : Number.NaN;
    const end = match ? Number(match[3]) * 60 + Number(match[4]) : Number.NaN;
    if (!(start < end && end <= 24 * 60)) {
      context.addIssue({ code: "custom", message: "must look like 08:00-21:00 with the start before the end" });
      return z.NEVER;
    }
    return { start, end };
  });

/** `SMS_DAILY_CAP`, `EMAIL_DAILY_CAP`, `SMS_WEEKLY_CAP`: a whole number of messages per patient per local day (week). */
const dailyCap = () =>
  z
    .string()
    .regex(/^\d{1,4}$/, { error: "must be a whole number of messages (0 turns the cap off)" })
    .transform(Number);

/** `CLINIC_TIMEZONE`: the zone for patients without one, and the one the console shows times in. */
const clinicTimeZone = () =>
  withDefault(CLINIC_TIME_ZONE, z.string().refine(isTimeZone, { error: "is not an IANA time zone" }));

const notificationSchema = () =>
  z
    .object({
      CLINIC_TIMEZONE: clinicTimeZone(),
      CLINIC_NAME: withDefault("Your Clinic", z.string()),
      CLINIC_PHONE: optionalText(),
      SMS_SEND_WINDOW: withDefault(SMS_SEND_WINDOW, sendWindow()),
      SMS_DAILY_CAP: withDefault("3", dailyCap()),
      EMAIL_DAILY_CAP: withDefault("5", dailyCap()),
      SMS_WEEKLY_CAP: withDefault("0", dailyCap()),
      NOTIFICATION_RULES: withDefault(DEFAULT_NOTIFICATION_RULES, notificationRules()),
    })
    .transform((vars) => ({
      clinicName: vars.CLINIC_NAME,
      clinicPhone: vars.CLINIC_PHONE,
      clinicTimezone: vars.CLINIC_TIMEZONE,
      /** The SMS send window in the patient's local time. */
      smsWindow: vars.SMS_SEND_WINDOW,
      /** The channels each event type notifies on; a type not in the map notifies nobody. */
      rules: vars.NOTIFICATION_RULES,
      /** Messages per patient and channel per local day; 0 turns a channel's cap off. */
      dailyCaps: { sms: vars.SMS_DAILY_CAP, email: vars.EMAIL_DAILY_CAP } satisfies Record<Channel, number>,
      /** Texts per patient in any 7 local days; 0 (the default) turns it off. */
      weeklySmsCap: vars.SMS_WEEKLY_CAP,
    }));

export type NotificationSettings = z.output<ReturnType<typeof notificationSchema>>;

/**
 * The notification pipeline's settings (clinic, send window, rules). Providers are read apart
 * (src/config/providers.ts), so a provider problem holds only its own channel.
 */
export const readNotificationSettings = settingsReader(notificationSchema);

/**
 * `NOTIFICATION_RULES` alone: what the events consumer needs to write outbox rows, so no other
 * notification setting can stop state updates.
 */
export const readNotificationRules = settingsReader(() =>
  z
    .object({ NOTIFICATION_RULES: withDefault(DEFAULT_NOTIFICATION_RULES, notificationRules()) })
    .transform((vars) => vars.NOTIFICATION_RULES),
);

/**
 * `CLINIC_TIMEZONE` alone, for the console: its pages must keep working (in the clinic's zone) while
 * another notification setting is broken, which is when staff need them.
 */
export const readClinicTimeZone = settingsReader(() =>
  z.object({ CLINIC_TIMEZONE: clinicTimeZone() }).transform((vars) => vars.CLINIC_TIMEZONE),
);

const twilioWebhookSchema = () =>
  z
    .object({ TWILIO_AUTH_TOKEN: authTokenList(), PUBLIC_BASE_URL: publicBaseUrl() })
    .transform((vars) => ({ authTokens: vars.TWILIO_AUTH_TOKEN, publicBaseUrl: vars.PUBLIC_BASE_URL }));

/**
 * What verifying Twilio's inbound webhooks needs: the auth tokens (every one of a rotation; empty when Twilio is not configured)
 * and the public base URL Twilio may have signed. Needs nothing else to be valid, unlike
 * {@link readNotificationSettings}.
 */
export const readTwilioWebhookSettings = settingsReader(twilioWebhookSchema);
