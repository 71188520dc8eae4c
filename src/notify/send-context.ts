import { readBatch } from "../db/batch";
import {
  type ClinicProfile,
  selectEventClinics,
  selectProfilesOfEvents,
  selectSenderOptOuts,
  toClinicProfile,
} from "../db/clinics";
import { selectNotificationContactOptOuts, storedContact } from "../db/consent";
import { type OrderFacts, selectOrderFacts } from "../db/entities";
import { type NotificationRow, TRACKING_UPDATED_KIND } from "../db/notification-outbox";
import {
  type CurrentStatus,
  type RecentSend,
  type ShipmentMessage,
  selectCurrentStatuses,
  selectRecentSends,
  selectShipmentMessages,
} from "../db/notification-sends";
import { type Patient, selectNotificationPatients, selectOptedOutPhones, toPatient } from "../db/patients";
import { ENTITY_KINDS, type EntityKind } from "../event-types";
import { RECENT_SENDS_MS } from "./daily-cap";
import { storedReason } from "./reasons";
import { entityKindOf, subjectOf } from "./rules";

/** What the sender reads about a batch's notifications just before deciding them. */
export interface SendContext {
  /** Each notification's patient in its event's clinic's directory, by notification id ({@link patientOf}). */
  patients: ReadonlyMap<string, Patient>;
  optedOutPhones: ReadonlySet<string>;
  orders: ReadonlyMap<string, OrderFacts>;
  /** The current status of each notification's entity, by `kind\nentity_id`. */
  currentStatuses: ReadonlyMap<string, CurrentStatus>;
  /** What these patients were sent in the last 7 days and 3 hours (at least their whole local week). */
  recentSends: readonly RecentSend[];
  /** The clinic of each notification's event, by event id. */
  eventClinics: ReadonlyMap<string, string>;
  /** The profiles of those clinics (a clinic without one is absent: it uses the defaults). */
  clinicProfiles: ReadonlyMap<string, ClinicProfile>;
  /** Per-sender opt-outs of these patients' phones, by {@link senderOptOutKey}. */
  senderOptOuts: ReadonlySet<string>;
  /** The shipping messages and tracking updates of the orders that have a tracking update here. */
  shipmentMessages: readonly ShipmentMessage[];
  /**
   * The suppression code of each notification whose patient's current contact on its channel is
   * opted out (`email_bounced`, `email_complained`, `email_unsubscribed`, `phone_unreachable`).
   */
  contactOptOuts: ReadonlyMap<string, string>;
}

/** Key of a phone's opt-out from one sender in {@link SendContext.senderOptOuts}. */
export const senderOptOutKey = (phone: string, sender: string) => `${phone}\n${sender}`;

/** The directory entry of a notification's patient, in its event's clinic. */
export const patientOf = (context: SendContext, row: NotificationRow): Patient | undefined =>
  context.patients.get(row.notification_id);

/** Key of an entity in {@link SendContext.currentStatuses}. */
export const entityKey = (kind: EntityKind, entityId: string) => `${kind}\n${entityId}`;

/**
 * Loads patients, opt-outs, order facts and the entities' current statuses for some outbox rows, in
 * one round trip whatever their number: read at send time, so a message is decided on the state of
 * now, not the state when its row was written.
 */
export async function loadSendContext(
  db: D1Database,
  rows: readonly NotificationRow[],
  now: Date,
  soleClinic: string | null = null,
): Promise<SendContext> {
  const patientIds = [...new Set(rows.map((row) => row.patient_id))];
  const idsByKind = new Map<EntityKind, Set<string>>(ENTITY_KINDS.map((kind) => [kind, new Set()]));
  for (const row of rows) {
    const kind = entityKindOf(row.kind);
    if (kind) idsByKind.get(kind)?.add(row.entity_id);
  }
  const statusKinds = ENTITY_KINDS.filter((kind) => (idsByKind.get(kind)?.size ?? 0) > 0);
  const eventIds = [...new Set(rows.map((row) => row.event_id))];
  const updatedOrders = [
    ...new Set(rows.filter((row) => row.kind === TRACKING_UPDATED_KIND).map((row) => row.entity_id)),
  ];
  const [
    clinicRows,
    profileRows,
    senderOptOutRows,
    patientRows,
    optOutRows,
    recentRows,
    orderRows,
    shipmentRows,
    contactOptOutRows,
    ...statusRows
  ] = await readBatch(db, [
    selectEventClinics(db, eventIds),
    selectProfilesOfEvents(db, eventIds),
    selectSenderOptOuts(db, patientIds),
    selectNotificationPatients(
      db,
      rows.map((row) => row.notification_id),
      soleClinic,
    ),
    selectOptedOutPhones(db, patientIds),
    selectRecentSends(db, patientIds, new Date(now.getTime() - RECENT_SENDS_MS).toISOString()),
    selectOrderFacts(db, [...(idsByKind.get("order") ?? [])]),
    selectShipmentMessages(db, updatedOrders),
    selectNotificationContactOptOuts(
      db,
      rows.map((row) => row.notification_id),
    ),
    ...statusKinds.map((kind) => selectCurrentStatuses(db, kind, [...(idsByKind.get(kind) ?? [])])),
  ]);
  const currentStatuses = new Map<string, CurrentStatus>();
  statusKinds.forEach((kind, position) => {
    for (const row of statusRows[position] ?? []) currentStatuses.set(entityKey(kind, row.entity_id), row);
  });
  // Rows come unassigned first, so a clinic's own row replaces an unassigned one.
  const patients = new Map(patientRows.map((row) => [String(row.for_notification), toPatient(row)]));
  const channels = new Map(rows.map((row) => [row.notification_id, row.channel]));
  const contactOptOuts = new Map<string, string>();
  for (const optOut of contactOptOutRows) {
    const patient = patients.get(optOut.for_notification);
    const channel = channels.get(optOut.for_notification);
    const contact = channel === "email" ? patient?.email : patient?.phone;
    // An opt-out of an earlier address or phone no longer applies: the patient changed it.
    if (channel && contact && storedContact(channel, contact) === optOut.contact)
      contactOptOuts.set(optOut.for_notification, suppressionOf(optOut.reason));
  }
  return {
    patients,
    optedOutPhones: new Set(optOutRows.map((row) => String(row.phone))),
    orders: new Map(orderRows.map((row) => [String(row.order_id), row])),
    currentStatuses,
    recentSends: recentRows,
    eventClinics: new Map(clinicRows.map((row) => [String(row.event_id), String(row.clinic_id)])),
    clinicProfiles: new Map(profileRows.map((row) => [String(row.clinic_id), toClinicProfile(row)])),
    senderOptOuts: new Set(senderOptOutRows.map((row) => senderOptOutKey(String(row.phone), String(row.sender)))),
    shipmentMessages: shipmentRows,
    contactOptOuts,
  };
}

/** The stable suppression code of a contact opt-out. */
const CONTACT_SUPPRESSIONS = {
  unreachable: storedReason("phone_unreachable"),
  bounced: storedReason("email_bounced"),
  complained: storedReason("email_complained"),
  unsubscribed: storedReason("email_unsubscribed"),
} as const;
const suppressionOf = (reason: string): string =>
  CONTACT_SUPPRESSIONS[reason as keyof typeof CONTACT_SUPPRESSIONS] ?? `email_${reason}`;

/**
 * The status the entity has moved on to when it no longer has the status this notification announces
 * (a `cancelled` after the `shipped` it would announce), or null when it is still current. A second
 * event of the same status writes no second row (one message per entity and status, migration 0026),
 * so this row stays current and is sent with the facts of now. Rows written before that rule (no
 * `topic`) keep the older test: only the event that set the entity's current status may notify.
 */
export function supersededBy(row: NotificationRow, context: SendContext): string | null {
  const subject = subjectOf(row.kind);
  const current = subject ? context.currentStatuses.get(entityKey(subject.entity, row.entity_id)) : undefined;
  if (!current || !subject) return null;
  if (row.topic === null) return current.status_event_id !== row.event_id ? current.status : null;
  return current.status !== subject.status ? current.status : null;
}
