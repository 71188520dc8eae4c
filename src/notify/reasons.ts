import type { Channel } from "../channels";

/**
 * Why a notification was suppressed or is waiting: one stable code per reason, the sentence people
 * read, and the setting that caused it (null when no setting did). The one source for the admin API
 * (`reason` on each notification) and the console. The stored `error` column keeps the text the
 * sender has always written for the older reasons (`unknown patient`), so rows written before the
 * codes read the same; newer reasons store their code.
 */
interface ReasonEntry {
  /** What the sender stores in `error` for it (a prefix for `opted_out_at_provider`). */
  stored: string;
  sentence: string;
  /** The variable or profile field that caused it, per channel where the channel decides. */
  setting: string | Partial<Record<Channel, string>> | null;
}

export const NOTIFICATION_REASONS = {
  not_wanted: {
    stored: "not wanted",
    sentence: "The notification rules do not send this kind of message on this channel.",
    setting: "NOTIFICATION_RULES",
  },
  unknown_patient: {
    stored: "unknown patient",
    sentence: "The patient is not in the clinic's patient directory.",
    setting: null,
  },
  no_email: { stored: "no email address", sentence: "The patient has no email address on file.", setting: null },
  email_not_opted_in: {
    stored: "email not opted in",
    sentence: "The patient has not agreed to receive email.",
    setting: null,
  },
  no_phone: { stored: "no phone number", sentence: "The patient has no phone number on file.", setting: null },
  sms_not_opted_in: {
    stored: "sms not opted in",
    sentence: "The patient has not agreed to receive texts.",
    setting: null,
  },
  opted_out: {
    stored: "opted out by STOP",
    sentence: "The patient replied STOP (or asked in words to stop) to this clinic's number.",
    setting: null,
  },
  opted_out_at_provider: {
    stored: "opted out:",
    sentence: "Twilio refused the text because the patient unsubscribed from this number (error 21610).",
    setting: null,
  },
  email_bounced: {
    stored: "email_bounced",
    sentence: "The patient's email address bounced for good; no email goes to it until it changes.",
    setting: null,
  },
  email_complained: {
    stored: "email_complained",
    sentence: "The patient marked an email as spam; no email goes to this address until it changes.",
    setting: null,
  },
  email_unsubscribed: {
    stored: "email_unsubscribed",
    sentence: "The patient unsubscribed from email with the link in a message.",
    setting: null,
  },
  phone_unreachable: {
    stored: "phone_unreachable",
    sentence: "Twilio reported the patient's phone cannot take texts; no text goes to it until it changes.",
    setting: null,
  },
  daily_cap: {
    stored: "daily_cap",
    sentence: "The patient reached today's limit of messages; this one waits for their next allowed day.",
    setting: { sms: "SMS_DAILY_CAP", email: "EMAIL_DAILY_CAP" },
  },
  weekly_cap: {
    stored: "weekly_cap",
    sentence: "The patient reached the limit of texts for 7 days; this one waits for their next allowed day.",
    setting: "SMS_WEEKLY_CAP",
  },
  expired: {
    stored: "expired",
    sentence: "The message waited 48 hours for the patient's next allowed day and was not sent.",
    setting: null,
  },
  quiet_hours: {
    stored: "quiet_hours",
    sentence: "The text waits for the send window in the patient's time zone.",
    setting: "SMS_SEND_WINDOW",
  },
  tracking_changed_again: {
    stored: "tracking_changed_again",
    sentence: "The tracking number changed again; the newer update tells the patient.",
    setting: null,
  },
  shipping_message_pending: {
    stored: "shipping_message_pending",
    sentence: "The shipping message still waiting will carry the new tracking number.",
    setting: null,
  },
  no_shipping_message_sent: {
    stored: "no_shipping_message_sent",
    sentence: "No shipping message was sent on this channel, so there is no tracking number to update.",
    setting: null,
  },
  tracking_already_told: {
    stored: "tracking_already_told",
    sentence: "The patient was already told this tracking number.",
    setting: null,
  },
  misconfigured: {
    stored: "",
    sentence: "A provider or notification setting is missing or malformed; fix it, then replay the held messages.",
    setting: null,
  },
} as const satisfies Record<string, ReasonEntry>;

export type ReasonCode = keyof typeof NOTIFICATION_REASONS;

/** What the sender stores in `error` for a reason. */
export const storedReason = (code: Exclude<ReasonCode, "misconfigured" | "opted_out_at_provider">): string =>
  NOTIFICATION_REASONS[code].stored;

/** A reason as the admin API and the console show it. */
export interface ReasonView {
  code: ReasonCode;
  sentence: string;
  setting: string | null;
}

/** The status a row waits or stops in for one of these reasons. */
const REASONED_STATUSES = new Set(["suppressed", "held", "scheduled"]);

/**
 * The reason of a suppressed, held or scheduled notification, from its status, stored `error` and
 * channel; null for any other status. A held row's error names the variable to fix first
 * (`SMS_PROVIDER is not set`), which becomes the setting.
 */
export function reasonOf(row: { status: string; error: string | null; channel: string }): ReasonView | null {
  if (!REASONED_STATUSES.has(row.status)) return null;
  const channel = row.channel === "email" ? "email" : "sms";
  if (row.status === "scheduled" && row.error === null) return view("quiet_hours", channel);
  if (row.status === "held") {
    const variable = /^[A-Z][A-Z0-9_]+/.exec(row.error ?? "")?.[0] ?? null;
    return { ...view("misconfigured", channel), setting: variable };
  }
  const error = row.error ?? "";
  for (const [code, entry] of Object.entries(NOTIFICATION_REASONS) as [ReasonCode, ReasonEntry][]) {
    if (entry.stored === "") continue;
    if (code === "opted_out_at_provider" ? error.startsWith(entry.stored) : error === entry.stored)
      return view(code, channel);
  }
  return null;
}

function view(code: ReasonCode, channel: Channel): ReasonView {
  const entry: ReasonEntry = NOTIFICATION_REASONS[code];
  const setting = entry.setting === null || typeof entry.setting === "string" ? entry.setting : entry.setting[channel];
  return { code, sentence: entry.sentence, setting: setting ?? null };
}

/** A notification's reason as API fields: `reason` (the code), `reason_sentence`, `reason_setting`. */
export function reasonFields(row: { status: string; error: string | null; channel: string }) {
  const reason = reasonOf(row);
  return {
    reason: reason?.code ?? null,
    reason_sentence: reason?.sentence ?? null,
    reason_setting: reason?.setting ?? null,
  };
}
