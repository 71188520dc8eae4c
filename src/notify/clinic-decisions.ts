import type { SenderDefaults } from "../config/clinics";
import type { NotificationSettings } from "../config/notifications";
import type { NotificationRow } from "../db/notification-outbox";
import { type ClinicSettings, clinicSettings } from "../tenancy/clinic-settings";
import { type DailyCap, dailyCap } from "./daily-cap";
import type { OutboundMessage } from "./providers/provider";
import { type SendContext, senderOptOutKey } from "./send-context";

/**
 * What the sender decides a notification with, per clinic: the clinic of the notification's event,
 * its effective settings (name, phone, zone, window, caps, senders), the phones opted out of its SMS
 * sender (a STOP to another clinic's own number does not count), and its daily and weekly caps.
 */
export interface ClinicDecisionContext {
  settings: ClinicSettings;
  optedOutPhones: ReadonlySet<string>;
  cap: DailyCap;
}

/** A memoising lookup of each row's clinic context for one sender run. */
export function clinicContexts(
  base: NotificationSettings,
  senders: SenderDefaults,
  context: SendContext,
  now: Date,
): (row: NotificationRow) => ClinicDecisionContext {
  const byClinic = new Map<string, ClinicDecisionContext>();
  return (row) => {
    // An event row is always there for its notifications; "" (no clinic) falls back to the defaults.
    const clinicId = context.eventClinics.get(row.event_id) ?? "";
    const known = byClinic.get(clinicId);
    if (known) return known;
    const settings = clinicSettings(base, senders, clinicId, context.clinicProfiles.get(clinicId));
    const optedOutPhones = new Set(context.optedOutPhones);
    for (const patient of context.patients.values())
      if (patient.phone && context.senderOptOuts.has(senderOptOutKey(patient.phone, settings.senderKey)))
        optedOutPhones.add(patient.phone);
    const created = {
      settings,
      optedOutPhones,
      cap: dailyCap(clinicId, settings.dailyCaps, context.recentSends, now, settings.weeklySmsCap),
    };
    byClinic.set(clinicId, created);
    return created;
  };
}

/** The message as it goes out from its clinic's senders. */
export function fromClinic(message: OutboundMessage, settings: ClinicSettings): OutboundMessage {
  return {
    ...message,
    sender: {
      smsMessagingServiceSid: settings.smsSender.messagingServiceSid,
      smsFrom: settings.smsSender.from,
      smsKey: settings.senderKey,
      emailFrom: settings.emailFrom,
      emailReplyTo: settings.emailReplyTo,
    },
  };
}
