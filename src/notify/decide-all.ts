import type { Channel } from "../channels";
import { readClinicIds, type SenderDefaults } from "../config/clinics";
import { type NotificationSettings, readNotificationSettings, type SendWindow } from "../config/notifications";
import { type UnsubscribeLinks, unsubscribeHeaders } from "../consent/unsubscribe-links";
import { type NotificationRow, TRACKING_UPDATED_KIND } from "../db/notification-outbox";
import { clinicContexts, fromClinic } from "./clinic-decisions";
import type { CapVerdict } from "./daily-cap";
import { type Decision, decide } from "./decide";
import type { Decided, JobRow } from "./earlier-attempt";
import type { ChannelProvider } from "./providers/select";
import { hopDelaySeconds, nextSmsWindowOpening } from "./quiet-hours";
import { storedReason } from "./reasons";
import { loadSendContext, patientOf, supersededBy } from "./send-context";
import { trackingUpdateVerdict } from "./tracking-update";

/** The notification settings, or the ConfigError's text (variable and problem) that holds every message. */
export function readSettings(env: Env): NotificationSettings | { unreadable: string } {
  const { settings, problem } = readNotificationSettings.tryRead(env);
  return problem ? { unreadable: problem.message } : settings;
}

/**
 * Loads what the decisions need in one round trip, then decides each job read. A job whose
 * settings or channel provider cannot be read is held with the reason, before anything else.
 */
export async function decideAll(
  db: D1Database,
  work: readonly JobRow[],
  settings: NotificationSettings | { unreadable: string },
  providers: Record<Channel, ChannelProvider>,
  now: Date,
  senderDefaults: SenderDefaults,
  soleClinic: string | null,
  links: UnsubscribeLinks | null = null,
): Promise<Decided[]> {
  if ("unreadable" in settings)
    return work.map((job) => ({
      ...job,
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
    if (capWaitExpired(row, now))
      return { index, row, provider, decision: { action: "suppress", reason: storedReason("expired") } };
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
    const capped = clinic.cap.take(row.patient_id, row.channel, timeZone);
    if (!capped.allowed)
      return { index, row, provider, decision: capDeferral(row, capped, timeZone, clinic.settings.smsWindow, now) };
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

/** How long a message over a cap may wait for the patient's next allowed day before it expires. */
export const CAP_WAIT_MS = 48 * 3_600_000;

const CAP_REASONS: ReadonlySet<string | null> = new Set([storedReason("daily_cap"), storedReason("weekly_cap")]);

const capDeadline = (row: NotificationRow) => Date.parse(row.created_at) + CAP_WAIT_MS;

/** True when a message a cap deferred has waited its 48 hours: it ends `expired`, whatever the caps say now. */
function capWaitExpired(row: NotificationRow, now: Date): boolean {
  return CAP_REASONS.has(row.error) && now.getTime() >= capDeadline(row);
}

/**
 * A message over a cap waits for the patient's next allowed day (an SMS for that day's send window),
 * `scheduled` with the cap as its reason, and is decided afresh then (consent, caps, whether the entity
 * moved on). It never waits past 48 hours from its creation: it comes back then and expires.
 */
function capDeferral(
  row: NotificationRow,
  capped: Extract<CapVerdict, { allowed: false }>,
  timeZone: string,
  window: SendWindow,
  now: Date,
): Exclude<Decision, { action: "send" }> {
  const deadline = capDeadline(row);
  if (now.getTime() >= deadline) return { action: "suppress", reason: storedReason("expired") };
  const day = capped.nextAllowedDay;
  const allowed = row.channel === "sms" ? (nextSmsWindowOpening(day, timeZone, window) ?? day) : day;
  const opening = new Date(Math.min(allowed.getTime(), deadline));
  return { action: "schedule", opening, delaySeconds: hopDelaySeconds(now, opening), reason: capped.reason };
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
