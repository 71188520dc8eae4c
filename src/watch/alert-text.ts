import type { AlertRow } from "../db/alerts";
import { formatDuration } from "../duration";

/**
 * The texts staff receive about alerts: rule, target id, age and a console link per alert. Built
 * from the alert row alone (ids, rule names, times), so no patient name, contact, address or
 * medication can reach a text.
 *
 * Ids come from NovaMed's payloads, so a text shows them restricted to `[A-Za-z0-9._:-]` (anything
 * else becomes `_`): no `<!channel>`, `<https://evil|…>` or HTML can ride in an id. The Slack sender
 * escapes the whole text once more (`slackEscape`), the email sender escapes its HTML part.
 */

/** An id as alert texts show it: characters outside `[A-Za-z0-9._:-]` replaced by `_`. */
export function shownId(id: string): string {
  return id.replace(/[^A-Za-z0-9._:-]/g, "_");
}

/** An actor (an email or `token:…`) as alert texts show it: ids' characters plus `@` and `+`. */
function shownActor(actor: string): string {
  return actor.replace(/[^A-Za-z0-9._:@+-]/g, "_");
}

/** Slack's own escaping of message text: `&`, `<` and `>` only (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function slackEscape(text: string): string {
  return text.replace(/[&<>]/g, (character) => (character === "&" ? "&amp;" : character === "<" ? "&lt;" : "&gt;"));
}

/** What each rule means, in a few words. */
const RULE_MEANINGS: Record<string, string> = {
  "medication_request:approved": "approved, no order yet",
  "order:created": "created, not processing or shipped",
  "order:processing": "processing, not shipped",
  "order:shipped": "shipped, not delivered",
  "refill:requested": "requested, neither approved nor denied",
  novamed_silence: "no NovaMed event from this clinic",
  webhook_rejections: "many webhook deliveries refused (a NovaMed key rotated on one side only?)",
  event_dead: "event dead (retries exhausted)",
  event_invalid: "event invalid (failed its schema)",
  notification_failed: "patient notification failed",
  notification_held: "patient notification held",
  config_problem: "configuration problem",
  phone_unreachable: "patient's phone cannot take texts (Twilio: invalid, landline or unknown); update the phone",
  sms_carrier_filtering: "carriers filtered this clinic's texts (Twilio 30007; check A2P 10DLC registration)",
  patient_replied: "a patient replied by text (an operator reads it in the console)",
};

/** The console page of each target type that has one. */
const TARGET_PAGES: Partial<Record<AlertRow["target_type"], string>> = {
  order: "/console/orders",
  medication_request: "/console/medication-requests",
  refill: "/console/refills",
  event: "/console/events",
  patient: "/console/patients",
  inbound_reply: "/console/inbound-replies",
};

/** The console link of an alert's target (its page, or the alert list for targets without one). */
export function consoleLink(alert: AlertRow, publicBaseUrl: string | null): string {
  const page = TARGET_PAGES[alert.target_type];
  const path = page
    ? `${page}/${encodeURIComponent(alert.target_id)}`
    : `/console/alerts?rule=${encodeURIComponent(alert.rule)}`;
  return `${publicBaseUrl ?? ""}${path}`;
}

/** One line per alert; `at` is the instant its age is measured at. */
export function alertLine(alert: AlertRow, at: Date, publicBaseUrl: string | null): string {
  const age = formatDuration(at.getTime() - Date.parse(alert.since));
  const rule = shownId(alert.rule);
  const meaning = RULE_MEANINGS[alert.rule] ?? rule;
  const acknowledged = alert.acknowledged_by ? ` (acknowledged by ${shownActor(alert.acknowledged_by)})` : "";
  return `• ${rule}: ${shownId(alert.target_type)} ${shownId(alert.target_id)}, ${meaning}, for ${age}${acknowledged} ${consoleLink(alert, publicBaseUrl)}`;
}

export interface AlertMessage {
  subject: string;
  text: string;
}

/**
 * The "alerts opened" message. Each age is measured when its alert opened, so a retried delivery
 * sends the same text (and the email provider's idempotency key, derived from it, dedupes).
 */
export function openedMessage(alerts: readonly AlertRow[], publicBaseUrl: string | null): AlertMessage {
  const subject = `NovaMed watch: ${alerts.length} new alert${alerts.length === 1 ? "" : "s"}`;
  const lines = alerts.map((alert) => alertLine(alert, new Date(alert.opened_at), publicBaseUrl));
  return { subject, text: [subject, ...lines].join("\n") };
}

/** The daily digest of what is still open (ages as of `now`), naming how many did not fit. */
export function digestMessage(
  alerts: readonly AlertRow[],
  total: number,
  now: Date,
  publicBaseUrl: string | null,
): AlertMessage {
  const subject = `NovaMed watch: daily digest, ${total} open alert${total === 1 ? "" : "s"}`;
  const lines = alerts.map((alert) => alertLine(alert, now, publicBaseUrl));
  if (total > alerts.length) lines.push(`…and ${total - alerts.length} more: ${publicBaseUrl ?? ""}/console/alerts`);
  return { subject, text: [subject, ...lines].join("\n") };
}
