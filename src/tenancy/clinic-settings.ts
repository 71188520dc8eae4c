import type { SenderDefaults } from "../config/clinics";
import { type NotificationSettings, sendWindow } from "../config/notifications";
import { CLINIC_PROFILE_FIELDS, type ClinicProfile, type ClinicProfileField } from "../db/clinics";

/**
 * A clinic's effective settings: each field of its profile (D1, `PUT /admin/clinics/:clinic_id`), or,
 * when the clinic has no profile or left the field empty, the `[vars]` default (`CLINIC_NAME`,
 * `CLINIC_PHONE`, `CLINIC_TIMEZONE`, `SMS_SEND_WINDOW`, `SMS_DAILY_CAP`, `EMAIL_DAILY_CAP`, `SMS_WEEKLY_CAP`,
 * `TWILIO_FROM_NUMBER`/`TWILIO_MESSAGING_SERVICE_SID`, `EMAIL_FROM`). Precedence is documented in
 * docs/operations.md ("Clinic profiles").
 */

/** Where an effective setting came from. */
export type SettingSource = "profile" | "default";

/** The Twilio sender of a clinic's texts: a Messaging Service, or a From number. */
export interface SmsSender {
  messagingServiceSid: string | null;
  from: string | null;
}

export interface ClinicSettings extends NotificationSettings {
  clinicId: string;
  smsSender: SmsSender;
  /**
   * Who the patient's carrier sees texting them (the Messaging Service id, or the From number):
   * consent is kept per sender key, so clinics sharing a sender share a STOP.
   */
  senderKey: string;
  emailFrom: string | null;
  emailReplyTo: string | null;
  defaultLocale: "en" | "es";
  /** Staff addresses told about this clinic's alerts, besides ALERT_EMAIL_TO. */
  alertEmails: string[];
  sources: Record<ClinicProfileField, SettingSource>;
  /** When the profile last changed; null without one. */
  updatedAt: string | null;
}

/** The sender key of clinics that send with no identity configured (the log provider). */
export const UNNAMED_SENDER = "default";

/**
 * Merges a clinic's profile over the defaults. A stored value that no longer parses (it was validated
 * when written) falls back to the default rather than stopping the clinic's messages.
 */
export function clinicSettings(
  base: NotificationSettings,
  senders: SenderDefaults,
  clinicId: string,
  profile: ClinicProfile | undefined,
): ClinicSettings {
  const sources = Object.fromEntries(
    CLINIC_PROFILE_FIELDS.map((field) => [field, isSet(profile?.[field]) ? "profile" : "default"]),
  ) as Record<ClinicProfileField, SettingSource>;
  const window = profile?.sms_send_window ? sendWindow().safeParse(profile.sms_send_window) : null;
  if (window && !window.success) sources.sms_send_window = "default";
  // A clinic that names its own SMS sender uses it alone; otherwise every clinic shares the default one.
  const ownSender = isSet(profile?.sms_messaging_service_sid) || isSet(profile?.sms_from);
  const smsSender: SmsSender = ownSender
    ? { messagingServiceSid: profile?.sms_messaging_service_sid ?? null, from: profile?.sms_from ?? null }
    : { messagingServiceSid: senders.smsMessagingServiceSid, from: senders.smsFrom };
  return {
    ...base,
    clinicId,
    clinicName: profile?.name ?? base.clinicName,
    clinicPhone: profile?.phone ?? base.clinicPhone,
    clinicTimezone: profile?.time_zone ?? base.clinicTimezone,
    smsWindow: window?.success ? window.data : base.smsWindow,
    dailyCaps: {
      sms: profile?.sms_daily_cap ?? base.dailyCaps.sms,
      email: profile?.email_daily_cap ?? base.dailyCaps.email,
    },
    weeklySmsCap: profile?.sms_weekly_cap ?? base.weeklySmsCap,
    smsSender,
    senderKey: smsSender.messagingServiceSid ?? smsSender.from ?? UNNAMED_SENDER,
    emailFrom: profile?.email_from ?? senders.emailFrom,
    emailReplyTo: profile?.email_reply_to ?? null,
    defaultLocale: profile?.default_locale === "es" ? "es" : "en",
    alertEmails: profile?.alert_emails ?? [],
    sources,
    updatedAt: profile?.updated_at ?? null,
  };
}

function isSet(value: unknown): boolean {
  return value !== null && value !== undefined && !(Array.isArray(value) && value.length === 0);
}

const minutes = (value: number) =>
  `${String(Math.floor(value / 60)).padStart(2, "0")}:${String(value % 60).padStart(2, "0")}`;

/** A clinic's effective settings as the admin API and the console show them, with each field's source. */
export function clinicView(settings: ClinicSettings) {
  return {
    clinic_id: settings.clinicId,
    settings: {
      name: settings.clinicName,
      phone: settings.clinicPhone,
      time_zone: settings.clinicTimezone,
      sms_send_window: `${minutes(settings.smsWindow.start)}-${minutes(settings.smsWindow.end)}`,
      sms_daily_cap: settings.dailyCaps.sms,
      email_daily_cap: settings.dailyCaps.email,
      sms_weekly_cap: settings.weeklySmsCap,
      sms_from: settings.smsSender.from,
      sms_messaging_service_sid: settings.smsSender.messagingServiceSid,
      email_from: settings.emailFrom,
      email_reply_to: settings.emailReplyTo,
      default_locale: settings.defaultLocale,
      alert_emails: settings.alertEmails,
    } satisfies Record<ClinicProfileField, unknown>,
    sources: settings.sources,
    updated_at: settings.updatedAt,
  };
}
