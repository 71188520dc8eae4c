import { z } from "zod";
import { CHANNELS } from "../channels";
import {
  entityKey,
  eventKey,
  FINAL_EVENT_STATUSES,
  FINAL_NOTIFICATION_STATUSES,
  indexedObjectIds,
  objectKeysNewestFirst,
} from "../db/archive";
import { ENTITY_TABLES } from "../db/entities";
import type { EventRow } from "../db/events";
import type { NotificationRow } from "../db/notification-outbox";
import { coversClinic, type StaffScope } from "../db/scope";
import type { EntityKind } from "../event-types";
import { type ArchiveLine, decodeLines } from "./ndjson";
import { shelvedObjectIds } from "./shelf";

/**
 * Reading an archived event or entity back: the index (src/db/archive.ts, 53 bits of the SHA-256 of
 * an event's id, or of an entity's kind and id) names the objects that may hold it, newest first;
 * the first one holding the id answers. D1's index
 * is asked first; the shelf in R2 (src/archive/shelf.ts, events archived more than
 * ARCHIVE_INDEX_DAYS ago) only when none of the objects D1 names holds the id. Rows are
 * checked with zod on the way in, like any input from outside D1. Each lookup takes the reader's scope:
 * another clinic's archived event or entity is unknown to it, as its live one is.
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

/** The archived copy of an event (with its notifications), or null when no object holds it in `scope`. */
export async function findArchivedEvent(env: Env, scope: StaffScope, eventId: string): Promise<ArchivedEvent | null> {
  const found = await searchArchive(env, await eventKey(eventId), (lines, objectKey) => {
    const event = lines.find((line) => line.table === "events" && line.row.event_id === eventId);
    if (!event) return null;
    const notifications = lines
      .filter((line) => line.table === "notifications" && line.row.event_id === eventId)
      .map((line) => archivedNotificationSchema.parse(line.row));
    return { objectKey, event: archivedEventSchema.parse(event.row), notifications };
  });
  return found && coversClinic(scope, found.event.clinic_id) ? found : null;
}

/** An archived entity's row as it left D1: its clinic and status checked, its other columns as stored. */
const archivedEntitySchema = z.object({ clinic_id: text(), status: text() }).catchall(z.unknown());

export interface ArchivedEntity {
  objectKey: string;
  row: z.infer<typeof archivedEntitySchema>;
}

/**
 * The archived copy of an order, medication request or refill (its row as it left D1), or null when
 * no object holds it in `scope`. Its events were archived by the day they were received, so they are
 * not with it.
 */
export async function findArchivedEntity(
  env: Env,
  scope: StaffScope,
  kind: EntityKind,
  id: string,
): Promise<ArchivedEntity | null> {
  const { table, idColumn } = ENTITY_TABLES[kind];
  const found = await searchArchive(env, await entityKey(kind, id), (lines, objectKey) => {
    const entity = lines.find((line) => line.table === table && line.row[idColumn] === id);
    return entity ? { objectKey, row: archivedEntitySchema.parse(entity.row) } : null;
  });
  return found && coversClinic(scope, found.row.clinic_id) ? found : null;
}

/**
 * The first object, newest first, in which `pick` finds what it looks for: among those D1's index
 * names for `key`, then among those only the shelf in R2 names.
 */
async function searchArchive<T>(
  env: Env,
  key: number,
  pick: (lines: ArchiveLine[], objectKey: string) => T | null,
): Promise<T | null> {
  const inD1 = await indexedObjectIds(env.DB, key);
  const found = await pickFromObjects(env, await objectKeysNewestFirst(env.DB, inD1), pick);
  if (found) return found;
  const shelved = await shelvedObjectIds(env.ARCHIVE, key);
  for (const id of inD1) shelved.delete(id);
  return pickFromObjects(env, await objectKeysNewestFirst(env.DB, shelved), pick);
}

async function pickFromObjects<T>(
  env: Env,
  objectKeys: readonly string[],
  pick: (lines: ArchiveLine[], objectKey: string) => T | null,
): Promise<T | null> {
  for (const objectKey of objectKeys) {
    const object = await env.ARCHIVE.get(objectKey);
    if (!object) continue;
    const found = pick(await decodeLines(await object.arrayBuffer()), objectKey);
    if (found) return found;
  }
  return null;
}
