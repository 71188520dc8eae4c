import { z } from "zod";
import { sendWindow } from "../config/notifications";
import type { ClinicProfile } from "../db/clinics";
import { isTimeZone } from "../time-zone";

/**
 * The body of `PUT /admin/clinics/:clinic_id` (and the console's clinic form): every field optional;
 * omitted, null or empty means "the [vars] default". Unknown fields are refused, so a misspelt field
 * is an error rather than a silent default. Messages never quote the submitted value.
 */

const E164 = /^\+[1-9]\d{7,14}$/;
/** An address, or `Name <address>` as Resend accepts it. */
const NAMED_EMAIL = /^[^<>\r\n]{0,100}<([^<>\s]+)>$/;

/** Empty text (after trimming) and null both read as "not set". */
const blankAsNull = (value: unknown) =>
  value === null || (typeof value === "string" && value.trim() === "") ? null : value;

function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess(blankAsNull, schema.nullable()).optional();
}

const text = (max: number) => z.string({ error: "must be text" }).trim().max(max, { error: "is too long" });
const phone = () =>
  z.string({ error: "must be text" }).regex(E164, { error: "must be an E.164 phone number such as +14155550123" });
const cap = () =>
  z
    .number({ error: "must be a whole number" })
    .int({ error: "must be a whole number" })
    .min(0, { error: "must be 0 (no cap) or more" })
    .max(9999, { error: "must be at most 9999" });
const emailAddress = () => z.email({ error: "must be an email address" }).max(254, { error: "is too long" });
const sender = () =>
  z.string({ error: "must be text" }).refine(
    (value) => {
      const match = NAMED_EMAIL.exec(value);
      return emailAddress().safeParse(match ? match[1] : value).success;
    },
    { error: "must be an email address or Name <address>" },
  );

export const clinicProfileInput = z.strictObject(
  {
    name: optional(text(100)),
    phone: optional(phone()),
    time_zone: optional(
      z
        .string({ error: "must be text" })
        .refine(isTimeZone, { error: "must be an IANA time zone such as America/New_York" }),
    ),
    sms_send_window: optional(
      z.string({ error: "must be text" }).refine((value) => sendWindow().safeParse(value).success, {
        error: "must look like 08:00-21:00 with the start before the end",
      }),
    ),
    sms_daily_cap: optional(cap()),
    email_daily_cap: optional(cap()),
    sms_weekly_cap: optional(cap()),
    sms_from: optional(phone()),
    sms_messaging_service_sid: optional(
      z
        .string({ error: "must be text" })
        .regex(/^MG[0-9a-fA-F]{32}$/, { error: "must be a Messaging Service id (MG and 32 hex digits)" }),
    ),
    email_from: optional(sender()),
    email_reply_to: optional(emailAddress()),
    default_locale: optional(z.enum(["en", "es"], { error: "must be en or es" })),
    alert_emails: optional(
      z
        .array(emailAddress(), { error: "must be a list of email addresses" })
        .max(10, { error: "holds at most 10 addresses" }),
    ),
  },
  { error: "is not a clinic profile field" },
);

export type ClinicProfileInput = z.output<typeof clinicProfileInput>;

/** The stored fields of an accepted body: what was omitted is the default (null). */
export function profileFieldsOf(input: ClinicProfileInput): Omit<ClinicProfile, "clinic_id" | "updated_at"> {
  return {
    name: input.name ?? null,
    phone: input.phone ?? null,
    time_zone: input.time_zone ?? null,
    sms_send_window: input.sms_send_window ?? null,
    sms_daily_cap: input.sms_daily_cap ?? null,
    email_daily_cap: input.email_daily_cap ?? null,
    sms_weekly_cap: input.sms_weekly_cap ?? null,
    sms_from: input.sms_from ?? null,
    sms_messaging_service_sid: input.sms_messaging_service_sid ?? null,
    email_from: input.email_from ?? null,
    email_reply_to: input.email_reply_to ?? null,
    default_locale: input.default_locale ?? null,
    alert_emails: input.alert_emails && input.alert_emails.length > 0 ? input.alert_emails : null,
  };
}
