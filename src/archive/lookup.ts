import { z } from "zod";
import { CHANNELS } from "../channels";
import {
  eventKey,
  FINAL_EVENT_STATUSES,
  FINAL_NOTIFICATION_STATUSES,
  indexedObjectIds,
  objectKeysNewestFirst,
} from "../db/archive";
import type { EventRow } from "../db/events";
import type { NotificationRow } from "../db/notification-outbox";
import { decodeLines } from "./ndjson";
import { shelvedObjectIds } from "./shelf";

/**
 * Reading an archived event back: the event index (src/db/archive.ts, 53 bits of the id's SHA-256)
 * names the objects that may hold it, newest first; the first one holding the id answers. D1's index
 * is asked first; the shelf in R2 (src/archive/shelf.ts, events archived more than
 * ARCHIVE_INDEX_DAYS ago) only when none of the objects D1 names holds the id. Rows are
 * checked with zod on the way in, like any input from outside D1.
 */

const text = () => z.string();
const nullableText = () => z.string().nullable();
const count = () => z.number().int();

const archivedEventSchema = z.object({
  event_id: text(),
  event_type: text(),
  clinic_id: text(),
  status: z.enum(FINAL_EVENT_STATUSES),
  attempts: count(),
  occurred_at: text(),
  received_at: text(),
  processed_at: nullableText(),
  last_error: nullableText(),
  issues: nullableText(),
  warnings: nullableText(),
  payload: nullableText(),
  payload_purged_at: nullableText(),
  conflicts: count(),
  applications: count(),
}) satisfies z.ZodType<EventRow>;

const archivedNotificationSchema = z.object({
  notification_id: text(),
  event_id: text(),
  channel: z.enum(CHANNELS),
  kind: text(),
  // Columns of migrations 0026, 0025 and 0105: absent from objects archived before them.
  topic: nullableText().default(null),
  told_tracking_number: nullableText().default(null),
  send_attempt: nullableText().default(null),
  locale: nullableText().default(null),
  patient_id: text(),
  entity_id: text(),
  status: z.enum(FINAL_NOTIFICATION_STATUSES),
  provider: nullableText(),
  provider_message_id: nullableText(),
  attempts: count(),
  error: nullableText(),
  scheduled_for: nullableText(),
  lease_expires_at: count().nullable(),
  send_started_at: nullableText(),
  rendered: nullableText(),
  sent_at: nullableText(),
  created_at: text(),
  updated_at: text(),
}) satisfies z.ZodType<NotificationRow>;

export interface ArchivedEvent {
  objectKey: string;
  event: EventRow;
  notifications: NotificationRow[];
}

/** The archived copy of an event (with its notifications), or null when no object holds it. */
export async function findArchivedEvent(env: Env, eventId: string): Promise<ArchivedEvent | null> {
  const key = await eventKey(eventId);
  const inD1 = await indexedObjectIds(env.DB, key);
  const found = await findInObjects(env, eventId, await objectKeysNewestFirst(env.DB, inD1));
  if (found) return found;
  const shelved = await shelvedObjectIds(env.ARCHIVE, key);
  for (const id of inD1) shelved.delete(id);
  return findInObjects(env, eventId, await objectKeysNewestFirst(env.DB, shelved));
}

async function findInObjects(env: Env, eventId: string, objectKeys: readonly string[]): Promise<ArchivedEvent | null> {
  for (const objectKey of objectKeys) {
    const object = await env.ARCHIVE.get(objectKey);
    if (!object) continue;
    const lines = await decodeLines(await object.arrayBuffer());
    const event = lines.find((line) => line.table === "events" && line.row.event_id === eventId);
    if (!event) continue;
    const notifications = lines
      .filter((line) => line.table === "notifications" && line.row.event_id === eventId)
      .map((line) => archivedNotificationSchema.parse(line.row));
    return { objectKey, event: archivedEventSchema.parse(event.row), notifications };
  }
  return null;
}
