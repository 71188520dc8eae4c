import type { Locale } from "../channels";
import type { NotificationSettings } from "../config/notifications";
import type { OrderFacts } from "../db/entities";
import type { NotificationRow } from "../db/notification-outbox";
import type { Patient } from "../db/patients";
import type { OutboundMessage } from "./providers/provider";
import { hopDelaySeconds, nextSmsWindowOpening } from "./quiet-hours";
import { storedReason } from "./reasons";
import { kindOf, ruleKindOf } from "./rules";
import { type MessageContext, renderEmail, renderSms } from "./templates";

/** What the sender does with one notification read. */
export type Decision =
  | { action: "hold"; reason: string }
  | { action: "supersede"; status: string }
  | { action: "suppress"; reason: string }
  | { action: "schedule"; opening: Date; delaySeconds: number; reason?: string }
  | { action: "send"; message: OutboundMessage; rendered: string; toldTrackingNumber: string | null; locale?: Locale };

/**
 * Consent, contact and timing rules, in order: a message the rules no longer want (they changed, or
 * it was held while they were unreadable) is suppressed as `not wanted`; a patient we do not know, or one without a usable
 * contact or consent for the channel, is suppressed with the reason; an SMS outside the send window
 * in the patient's time zone (the clinic's when the patient has none) waits for the next opening;
 * email is never delayed. Otherwise the message is rendered for sending.
 */
export function decide(
  row: NotificationRow,
  patient: Patient | undefined,
  optedOutPhones: ReadonlySet<string>,
  order: OrderFacts | undefined,
  settings: NotificationSettings & { defaultLocale?: Locale },
  now: Date,
): Decision {
  if (!wantedByRules(row, settings)) return { action: "suppress", reason: storedReason("not_wanted") };
  if (!patient) return { action: "suppress", reason: storedReason("unknown_patient") };
  const locale = patient.locale ?? settings.defaultLocale ?? "en";
  const context: MessageContext = {
    locale,
    kind: row.kind,
    clinicName: settings.clinicName,
    clinicPhone: settings.clinicPhone,
    carrier: order?.carrier,
    trackingNumber: order?.tracking_number,
    estimatedDelivery: order?.estimated_delivery,
  };
  // What the message tells of the shipment, kept on the row so a later change is told once.
  const toldTrackingNumber = order?.tracking_number ?? null;
  if (row.channel === "email") {
    if (!patient.email) return { action: "suppress", reason: storedReason("no_email") };
    if (!patient.email_opt_in) return { action: "suppress", reason: storedReason("email_not_opted_in") };
    const email = renderEmail(context);
    return {
      action: "send",
      message: { notificationId: row.notification_id, channel: "email", to: patient.email, email },
      rendered: JSON.stringify({ subject: email.subject, text: email.text }),
      toldTrackingNumber,
      locale,
    };
  }
  if (!patient.phone) return { action: "suppress", reason: storedReason("no_phone") };
  if (!patient.sms_opt_in) return { action: "suppress", reason: storedReason("sms_not_opted_in") };
  if (optedOutPhones.has(patient.phone)) return { action: "suppress", reason: storedReason("opted_out") };
  const opening = nextSmsWindowOpening(now, patient.timezone ?? settings.clinicTimezone, settings.smsWindow);
  if (opening) return { action: "schedule", opening, delaySeconds: hopDelaySeconds(now, opening) };
  const sms = renderSms(context);
  return {
    action: "send",
    message: { notificationId: row.notification_id, channel: "sms", to: patient.phone, sms },
    rendered: JSON.stringify({ text: sms }),
    toldTrackingNumber,
    locale,
  };
}

/** True when `NOTIFICATION_RULES` still names this row's channel for its kind of event (a tracking update: `order:shipped`'s). */
function wantedByRules(row: NotificationRow, settings: NotificationSettings): boolean {
  for (const [eventType, channels] of settings.rules)
    if (kindOf(eventType) === ruleKindOf(row.kind) && channels.includes(row.channel)) return true;
  return false;
}
