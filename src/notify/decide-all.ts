import type { Channel } from "../channels";
import { readClinicIds, type SenderDefaults } from "../config/clinics";
import { type NotificationSettings, readNotificationSettings } from "../config/notifications";
import { type UnsubscribeLinks, unsubscribeHeaders } from "../consent/unsubscribe-links";
import { TRACKING_UPDATED_KIND } from "../db/notification-outbox";
import { clinicContexts, fromClinic } from "./clinic-decisions";
import { decide } from "./decide";
import type { Claimed, Decided } from "./earlier-attempt";
import type { ChannelProvider } from "./providers/select";
import { loadSendContext, patientOf, supersededBy } from "./send-context";
import { trackingUpdateVerdict } from "./tracking-update";

/** The notification settings, or the ConfigError's text (variable and problem) that holds every message. */
export function readSettings(env: Env): NotificationSettings | { unreadable: string } {
  const { settings, problem } = readNotificationSettings.tryRead(env);
  return problem ? { unreadable: problem.message } : settings;
}

/**
 * Loads what the decisions need in one round trip, then decides each claimed job. A job whose
 * settings or channel provider cannot be read is held with the reason, before anything else.
 */
export async function decideAll(
  db: D1Database,
  work: readonly Claimed[],
  settings: NotificationSettings | { unreadable: string },
  providers: Record<Channel, ChannelProvider>,
  now: Date,
  senderDefaults: SenderDefaults,
  soleClinic: string | null,
  links: UnsubscribeLinks | null = null,
): Promise<Decided[]> {
  if ("unreadable" in settings)
    return work.map((claimed) => ({
      ...claimed,
      provider: null,
      decision: { action: "hold", reason: settings.unreadable },
    }));
  const context = await loadSendContext(
    db,
    work.map(({ row }) => row),
    now,
    soleClinic,
  );
  // Every message speaks for its event's clinic: its settings, its sender's opt-outs, its caps.
  const clinicOf = clinicContexts(settings, senderDefaults, context, now);
  const decided = work.map(({ index, row }): Decided => {
    const channel = providers[row.channel];
    if ("held" in channel) return { index, row, provider: null, decision: { action: "hold", reason: channel.held } };
    const { provider } = channel;
    const movedOnTo = supersededBy(row, context);
    if (movedOnTo !== null) return { index, row, provider, decision: { action: "supersede", status: movedOnTo } };
    if (row.kind === TRACKING_UPDATED_KIND) {
      const verdict = trackingUpdateVerdict(row, context.shipmentMessages, context.orders.get(row.entity_id));
      if (verdict.action !== "send") return { index, row, provider, decision: verdict };
    }
    // The patient's current contact bounced, complained, unsubscribed or is unreachable.
    const optedOut = context.contactOptOuts.get(row.notification_id);
    if (optedOut) return { index, row, provider, decision: { action: "suppress", reason: optedOut } };
    const clinic = clinicOf(row);
    const decision = decide(
      row,
      patientOf(context, row),
      clinic.optedOutPhones,
      context.orders.get(row.entity_id),
      clinic.settings,
      now,
    );
    if (decision.action !== "send") return { index, row, provider, decision };
    const patient = patientOf(context, row);
    const timeZone = patient?.timezone ?? clinic.settings.clinicTimezone;
    if (!clinic.cap.take(row.patient_id, row.channel, timeZone))
      return { index, row, provider, decision: { action: "suppress", reason: "daily_cap" } };
    const message = fromClinic(decision.message, clinic.settings);
    return { index, row, provider, decision: { ...decision, message, provider } };
  });
  return links
    ? Promise.all(decided.map((item) => withUnsubscribeHeaders(item, links, context.eventClinics)))
    : decided;
}

/** An email about to be sent, with its one-click unsubscribe headers (also in `rendered`, shown to staff). */
async function withUnsubscribeHeaders(
  item: Decided,
  links: UnsubscribeLinks,
  eventClinics: ReadonlyMap<string, string>,
): Promise<Decided> {
  const { decision, row } = item;
  if (decision.action !== "send" || decision.message.channel !== "email") return item;
  const clinicId = eventClinics.get(row.event_id);
  if (!clinicId) return item;
  const headers = await unsubscribeHeaders(links, { clinicId, patientId: row.patient_id, channel: "email" });
  if (!headers) return item;
  const message = { ...decision.message, email: { ...decision.message.email, headers } };
  const rendered = JSON.stringify({ ...(JSON.parse(decision.rendered) as object), headers });
  return { ...item, decision: { ...decision, message, rendered } };
}

/** The only configured clinic (its unassigned directory rows are its own), or null; never fails the run. */
export function soleClinicOf(env: Env): string | null {
  try {
    const ids = readClinicIds(env);
    return ids.length === 1 ? (ids[0] ?? null) : null;
  } catch {
    return null;
  }
}
