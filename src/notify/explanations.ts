/**
 * Why a notification is suppressed, held, failed or superseded, and why an alert rule fired: one
 * sentence in plain words, the setting behind it, and what to do. The one source of these words:
 * the console renders them and docs/operations.md's "Reasons and what to do" table is checked
 * against {@link reasonTableMarkdown} (test/node/explanations.test.ts). A new reason is one more
 * entry here (a code, or a `matches` test for reasons stored as text). The alert rules' words are in
 * ./alert-explanations.ts (the docs' second table, {@link alertRuleTableMarkdown} there).
 */

/**
 * A notification's channel (`sms` or `email`, as in src/channels.ts). Plain text here so the docs
 * check (a Node test) can import this module without the Worker's module resolution.
 */
type Channel = string;

/** The notification statuses that carry a reason. */
export type ExplainedStatus = "suppressed" | "held" | "failed" | "superseded" | "scheduled";

/** The values a sentence may name, from the clinic's effective settings. */
export interface ReasonValues {
  dailyCaps?: Partial<Record<Channel, number>>;
}

interface ReasonEntry {
  status: ExplainedStatus;
  /** The stored reason (the notification's `error`), or a label for a family matched by `matches`. */
  code: string;
  /** For reasons stored as text (a provider's words, a variable and its problem). */
  matches?: (reason: string) => boolean;
  /** What happened, in plain words. */
  sentence: (context: { channel: Channel | null; reason: string; values: ReasonValues }) => string;
  /** The setting that decided it, per channel when it differs; empty when no setting did. */
  setting: (channel: Channel | null, reason: string) => string | null;
  /** The sentence as the docs table shows it (no channel or value known). */
  docSentence: string;
  docSetting: string;
  action: string;
  /** An operator may send it once the cause is fixed (the sender checks everything again). */
  sendable: boolean;
}

const CHANNEL_NAMES: Record<Channel, string> = { sms: "SMS", email: "email" };
const channelName = (channel: Channel | null) => (channel ? (CHANNEL_NAMES[channel] ?? channel) : "SMS or email");
const perChannel = (sms: string, email: string) => (channel: Channel | null) =>
  channel === "sms" ? sms : channel === "email" ? email : `${sms} / ${email}`;
const none = () => null;
/** A held reason names its variable first (a ConfigError's text: `VARIABLE problem`). */
const VARIABLE_FIRST = /^([A-Z][A-Z0-9_]{2,})\b/;

function capSentence(period: "daily", caps: Partial<Record<Channel, number>> | undefined) {
  return ({ channel }: { channel: Channel | null }) => {
    const cap = channel ? caps?.[channel] : undefined;
    return `${period} ${channelName(channel)} limit${cap === undefined ? "" : ` of ${cap}`} reached for this patient`;
  };
}

const DAILY_WAIT = "it waits for the patient's next allowed day";
const WEEKLY_WAIT = "weekly SMS limit reached for this patient; it waits for the next day the week allows";
const WEEKLY_TEXT = {
  sentence: () => WEEKLY_WAIT,
  setting: () => "SMS_WEEKLY_CAP",
  docSentence: WEEKLY_WAIT,
  docSetting: "`SMS_WEEKLY_CAP` (or the clinic's `sms_weekly_cap`)",
};

/** A message waiting on a cap (issue 23): `scheduled` with the cap's code, sendable by an operator. */
function capWait(code: string, when: string) {
  return {
    status: "scheduled" as const,
    code,
    action: `nothing: ${when} (within 48 hours, else it expires); to send it now, raise the cap, then send it from its event page`,
    sendable: true,
  };
}

/** The patient's own contact refused further messages (issue 23): not sendable until it changes. */
function contactRefused(code: string, sentence: string, action: string): ReasonEntry {
  return {
    status: "suppressed",
    code,
    sentence: () => sentence,
    setting: none,
    docSentence: sentence,
    docSetting: "none (the patient's contact)",
    action,
    sendable: false,
  };
}

const ENTRIES: readonly ReasonEntry[] = [
  contactRefused(
    "email_bounced",
    "the patient's email address bounced for good",
    "update the address; the next email goes to the new one",
  ),
  contactRefused(
    "email_complained",
    "the patient marked an email as spam",
    "email again only if the patient asks, with a new address",
  ),
  contactRefused(
    "email_unsubscribed",
    "the patient unsubscribed from email",
    "nothing: email resumes only with a new address",
  ),
  contactRefused(
    "phone_unreachable",
    "Twilio reported the phone cannot take texts",
    "update the phone; the next text goes to the new one",
  ),
  {
    ...capWait("daily_cap", "it goes on the next allowed day"),
    sentence: (context) => `${capSentence("daily", context.values.dailyCaps)(context)}; ${DAILY_WAIT}`,
    setting: perChannel("SMS_DAILY_CAP", "EMAIL_DAILY_CAP"),
    docSentence: `daily SMS (or email) limit of N reached for this patient; ${DAILY_WAIT}`,
    docSetting: "`SMS_DAILY_CAP` / `EMAIL_DAILY_CAP` (or the clinic's `sms_daily_cap` / `email_daily_cap`)",
  },
  { ...capWait("weekly_cap", "it goes when the week allows"), ...WEEKLY_TEXT },
  {
    status: "suppressed",
    code: "expired",
    sentence: () => "it waited 48 hours for the patient's caps to allow it, and was not sent",
    setting: () => "SMS_DAILY_CAP / SMS_WEEKLY_CAP",
    docSentence: "it waited 48 hours for the patient's caps to allow it, and was not sent",
    docSetting: "`SMS_DAILY_CAP`, `EMAIL_DAILY_CAP`, `SMS_WEEKLY_CAP`",
    action: "if it still matters, raise the cap, then send it from its event page",
    sendable: true,
  },
  {
    status: "suppressed",
    code: "daily_cap",
    sentence: (context) => capSentence("daily", context.values.dailyCaps)(context),
    setting: perChannel("SMS_DAILY_CAP", "EMAIL_DAILY_CAP"),
    docSentence: "daily SMS (or email) limit of N reached for this patient",
    docSetting: "`SMS_DAILY_CAP` / `EMAIL_DAILY_CAP` (or the clinic's `sms_daily_cap` / `email_daily_cap`)",
    action: "raise the clinic's cap if the limit is too low, then send it from its event page",
    sendable: true,
  },
  {
    status: "suppressed",
    code: "not wanted",
    sentence: ({ channel }) => `the notification rules do not send this message by ${channelName(channel)}`,
    setting: () => "NOTIFICATION_RULES",
    docSentence: "the notification rules do not send this message on this channel",
    docSetting: "`NOTIFICATION_RULES`",
    action: "nothing, unless the clinic wants these messages: change NOTIFICATION_RULES (new events only)",
    sendable: false,
  },
  {
    status: "suppressed",
    code: "unknown patient",
    sentence: () => "the patient is not in the clinic's patient directory",
    setting: none,
    docSentence: "the patient is not in the clinic's patient directory",
    docSetting: "none (the patient directory)",
    action:
      "add the patient (PUT /admin/clinics/:clinic_id/patients/:patient_id or the import); later events reach them",
    sendable: false,
  },
  {
    status: "suppressed",
    code: "no phone number",
    sentence: () => "the patient has no phone number on file",
    setting: none,
    docSentence: "the patient has no phone number on file",
    docSetting: "none (the patient directory)",
    action: "add the patient's phone number in the directory; later events reach them",
    sendable: false,
  },
  {
    status: "suppressed",
    code: "no email address",
    sentence: () => "the patient has no email address on file",
    setting: none,
    docSentence: "the patient has no email address on file",
    docSetting: "none (the patient directory)",
    action: "add the patient's email address in the directory; later events reach them",
    sendable: false,
  },
  {
    status: "suppressed",
    code: "sms not opted in",
    sentence: () => "the patient has not agreed to texts",
    setting: none,
    docSentence: "the patient has not agreed to texts",
    docSetting: "none (the patient's `sms_opt_in`)",
    action: "record the patient's consent only if they gave it; nothing is sent without it",
    sendable: false,
  },
  {
    status: "suppressed",
    code: "email not opted in",
    sentence: () => "the patient has not agreed to emails (or unsubscribed, bounced or complained)",
    setting: none,
    docSentence: "the patient has not agreed to emails (or unsubscribed, bounced or complained)",
    docSetting: "none (the patient's `email_opt_in`)",
    action: "record the patient's consent only if they gave it; nothing is sent without it",
    sendable: false,
  },
  {
    status: "suppressed",
    code: "opted out by STOP",
    sentence: () => "the patient replied STOP to a text",
    setting: none,
    docSentence: "the patient replied STOP to a text",
    docSetting: "none (the SMS opt-out list)",
    action: "nothing: only the patient can opt back in, by replying START",
    sendable: false,
  },
  {
    status: "suppressed",
    code: "opted out",
    matches: (reason) => reason.startsWith("opted out: "),
    sentence: () => "the provider refused the message because the patient opted out",
    setting: none,
    docSentence: "the provider refused the message because the patient opted out",
    docSetting: "none (the provider's opt-out list)",
    action: "nothing: only the patient can opt back in",
    sendable: false,
  },
  {
    status: "suppressed",
    code: "tracking_already_told",
    sentence: () => "the patient was already told this tracking number",
    setting: none,
    docSentence: "the patient was already told this tracking number",
    docSetting: "none",
    action: "nothing",
    sendable: false,
  },
  {
    status: "suppressed",
    code: "tracking_changed_again",
    sentence: () => "the tracking number changed again before this update went out; the newer one is sent",
    setting: none,
    docSentence: "the tracking number changed again before this update went out; the newer one is sent",
    docSetting: "none",
    action: "nothing",
    sendable: false,
  },
  {
    status: "suppressed",
    code: "no_shipping_message_sent",
    sentence: () => "the patient was never told the order shipped, so there is no tracking number to correct",
    setting: none,
    docSentence: "the patient was never told the order shipped, so there is no tracking number to correct",
    docSetting: "none",
    action: "see why the shipping message was not sent (its own reason)",
    sendable: false,
  },
  {
    status: "suppressed",
    code: "shipping_message_pending",
    sentence: () => "the shipping message had not gone out yet; it carries the new tracking number",
    setting: none,
    docSentence: "the shipping message had not gone out yet; it carries the new tracking number",
    docSetting: "none",
    action: "nothing",
    sendable: false,
  },
  {
    status: "held",
    code: "VARIABLE problem",
    matches: (reason) => VARIABLE_FIRST.test(reason),
    sentence: ({ channel }) => `the ${channelName(channel)} provider or a notification setting is not configured`,
    setting: (_channel, reason) => VARIABLE_FIRST.exec(reason)?.[1] ?? null,
    docSentence: "the channel's provider or a notification setting is not configured (the variable is named)",
    docSetting: "the named variable (e.g. `SMS_PROVIDER`, `TWILIO_AUTH_TOKEN`, `EMAIL_FROM`)",
    action: "set the variable (`GET /admin/health` names it), then send it from its event page",
    sendable: true,
  },
  {
    status: "failed",
    code: "retries exhausted",
    sentence: () => "the provider kept failing and the retries ran out",
    setting: none,
    docSentence: "the provider kept failing and the retries ran out",
    docSetting: "none",
    action: "check the provider's status, then replay (POST /admin/notifications/replay with status failed)",
    sendable: false,
  },
  {
    status: "failed",
    code: "provider error",
    matches: () => true,
    sentence: () => "the provider refused the message for good",
    setting: none,
    docSentence: "the provider refused the message for good (its words are shown)",
    docSetting: "none",
    action: "fix what the provider's words point to (number, sender, account), then replay",
    sendable: false,
  },
  {
    status: "superseded",
    code: "entity now …",
    matches: () => true,
    sentence: ({ reason }) =>
      `the order, request or refill moved on before sending${reason.startsWith("entity now ") ? ` (${reason.slice(11)})` : ""}, so the message no longer applied`,
    setting: none,
    docSentence: "the order, request or refill moved on before sending, so the message no longer applied",
    docSetting: "none",
    action: "nothing: the newer status's message is the one sent",
    sendable: false,
  },
];

/** A reason explained for people. */
export interface Explanation {
  sentence: string;
  setting: string | null;
  action: string;
  /** An operator may send it again (held, or over a cap) after fixing the cause. */
  sendable: boolean;
}

function entryFor(status: string, reason: string | null): ReasonEntry | undefined {
  const stored = reason ?? "";
  return (
    ENTRIES.find((entry) => entry.status === status && !entry.matches && entry.code === stored) ??
    ENTRIES.find((entry) => entry.status === status && entry.matches?.(stored))
  );
}

/** The explanation of a notification's status and reason, or null when the status needs none. */
export function explainNotification(
  notification: { status: string; error: string | null; channel: Channel | null },
  values: ReasonValues = {},
): Explanation | null {
  const entry = entryFor(notification.status, notification.error);
  if (!entry) {
    if (!["suppressed", "held", "failed", "superseded"].includes(notification.status)) return null;
    return {
      sentence: `no explanation is known for the reason "${notification.error ?? "none"}"`,
      setting: null,
      action: "see docs/operations.md",
      sendable: notification.status === "held",
    };
  }
  const reason = notification.error ?? "";
  return {
    sentence: entry.sentence({ channel: notification.channel, reason, values }),
    setting: entry.setting(notification.channel, reason),
    action: entry.action,
    sendable: entry.sendable,
  };
}

/** True for a notification an operator may send once its cause is fixed. */
export function isSendable(notification: { status: string; error: string | null }): boolean {
  return entryFor(notification.status, notification.error)?.sendable ?? notification.status === "held";
}

/**
 * The stored reasons of the sendable suppressions and cap waits (the caps, their expiry), for the
 * send's compare-and-set.
 */
export const SENDABLE_SUPPRESSIONS: readonly string[] = [
  ...new Set(
    ENTRIES.filter(
      (entry) => (entry.status === "suppressed" || entry.status === "scheduled") && entry.sendable && !entry.matches,
    ).map((entry) => entry.code),
  ),
];

const cell = (text: string) => text.replaceAll("|", "\\|");

/** docs/operations.md's "Reasons and what to do" table of notification reasons, as this module says them. */
export function reasonTableMarkdown(): string {
  const notificationRows = ENTRIES.map(
    (entry) =>
      `| \`${entry.status}\` | \`${cell(entry.code)}\` | ${cell(entry.docSentence)} | ${cell(entry.docSetting)} | ${cell(entry.action)}${entry.sendable ? " (console: **Send now**)" : ""} |`,
  );
  return [
    "| status | reason | what happened | setting | what to do |",
    "|---|---|---|---|---|",
    ...notificationRows,
  ].join("\n");
}
