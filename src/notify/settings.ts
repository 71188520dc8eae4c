import { ConfigError } from "../config";
import type { KnownEventType } from "../events/schemas";
import { type Channel, parseNotificationRules } from "./rules";

/** Optional variables and secrets of the notification pipeline (not in the generated `Env`). */
export interface NotificationVariables {
  CLINIC_NAME?: string;
  CLINIC_PHONE?: string;
  CLINIC_TIMEZONE?: string;
  SMS_SEND_WINDOW?: string;
  NOTIFICATION_RULES?: string;
  PUBLIC_BASE_URL?: string;
  TWILIO_ACCOUNT_SID?: string;
  TWILIO_AUTH_TOKEN?: string;
  TWILIO_MESSAGING_SERVICE_SID?: string;
  TWILIO_FROM_NUMBER?: string;
  RESEND_API_KEY?: string;
  EMAIL_FROM?: string;
}

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

export interface NotificationSettings {
  clinicName: string;
  clinicPhone: string | null;
  clinicTimezone: string;
  /** The SMS send window in local minutes since midnight: [start, end). */
  smsWindow: { start: number; end: number };
  rules: Map<KnownEventType, Channel[]>;
  /** Null: SMS goes to the log provider. */
  twilio: TwilioSettings | null;
  /** Null: email goes to the log provider. */
  email: EmailSettings | null;
}

const cache = new WeakMap<object, NotificationSettings>();

function value(vars: NotificationVariables, name: keyof NotificationVariables): string | null {
  const raw = vars[name];
  return typeof raw === "string" && raw.trim() !== "" ? raw.trim() : null;
}

/** True when `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function parseWindow(raw: string | null): { start: number; end: number } {
  const match = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(raw ?? "08:00-21:00");
  const minutes = match ? [Number(match[1]) * 60 + Number(match[2]), Number(match[3]) * 60 + Number(match[4])] : [];
  const [start, end] = minutes;
  if (start === undefined || end === undefined || start >= end || end > 24 * 60) {
    throw new ConfigError("SMS_SEND_WINDOW", "must look like 08:00-21:00 with the start before the end");
  }
  return { start, end };
}

/**
 * The notification settings, read once per `env`. Channels without credentials use the log
 * provider; partial credentials are a configuration error naming the missing variable.
 */
export function readNotificationSettings(env: Env): NotificationSettings {
  const cached = cache.get(env);
  if (cached) return cached;
  const vars = env as unknown as NotificationVariables;

  const clinicTimezone = value(vars, "CLINIC_TIMEZONE") ?? "America/New_York";
  if (!isTimeZone(clinicTimezone)) throw new ConfigError("CLINIC_TIMEZONE", "is not an IANA time zone");

  let twilio: TwilioSettings | null = null;
  const accountSid = value(vars, "TWILIO_ACCOUNT_SID");
  if (accountSid) {
    const authToken = value(vars, "TWILIO_AUTH_TOKEN");
    if (!authToken) throw new ConfigError("TWILIO_AUTH_TOKEN", "is not set although TWILIO_ACCOUNT_SID is");
    const messagingServiceSid = value(vars, "TWILIO_MESSAGING_SERVICE_SID");
    const from = value(vars, "TWILIO_FROM_NUMBER");
    if (!messagingServiceSid && !from) {
      throw new ConfigError(
        "TWILIO_MESSAGING_SERVICE_SID",
        "or TWILIO_FROM_NUMBER must be set with TWILIO_ACCOUNT_SID",
      );
    }
    const base = readPublicBaseUrl(env);
    twilio = {
      accountSid,
      authToken,
      messagingServiceSid,
      from,
      statusCallbackUrl: base ? `${base}/webhooks/twilio/status` : null,
    };
  }

  let email: EmailSettings | null = null;
  const apiKey = value(vars, "RESEND_API_KEY");
  if (apiKey) {
    const from = value(vars, "EMAIL_FROM");
    if (!from) throw new ConfigError("EMAIL_FROM", "is not set although RESEND_API_KEY is");
    email = { apiKey, from };
  }

  const settings: NotificationSettings = {
    clinicName: value(vars, "CLINIC_NAME") ?? "Your clinic",
    clinicPhone: value(vars, "CLINIC_PHONE"),
    clinicTimezone,
    smsWindow: parseWindow(value(vars, "SMS_SEND_WINDOW")),
    rules: parseNotificationRules(vars.NOTIFICATION_RULES),
    twilio,
    email,
  };
  cache.set(env, settings);
  return settings;
}

/** `PUBLIC_BASE_URL` without a trailing slash, or null when unset. */
export function readPublicBaseUrl(env: Env): string | null {
  return value(env as unknown as NotificationVariables, "PUBLIC_BASE_URL")?.replace(/\/+$/, "") ?? null;
}

/**
 * The Twilio auth token for verifying inbound webhooks, or null when Twilio is not configured.
 * Unlike {@link readNotificationSettings} it needs nothing else to be valid.
 */
export function readTwilioAuthToken(env: Env): string | null {
  return value(env as unknown as NotificationVariables, "TWILIO_AUTH_TOKEN");
}
