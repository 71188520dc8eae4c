import { ENTITY_SOURCES, EVENT_SOURCE, historyOfNotifications, notificationsOfEvents } from "../db/archive";
import type { ArchiveLine } from "./ndjson";
import { type ArchiveContext, archiveObject } from "./objects";
import { oldestUnitOf, readUnitRows, unitRange } from "./units";

/**
 * Finished history, one clinic's day per object: the day's final events (by `received_at`) with their
 * notifications and those notifications' status history, and the entities whose final status was set
 * that day (by `status_at`, and quiet since the cutoff). An event's entity may sit in another day's
 * object: events older than PAYLOAD_RETENTION_DAYS no longer say which entity they touched.
 */

/** Most D1 queries one history part takes (see {@link archiveHistoryPart}). */
export function historyPartQueries(partPages: number): number {
  const sources = 1 + ENTITY_SOURCES.length;
  // Units; next part; record; mark deleted. Reads per page: events, notifications, history, each entity
  // table. Deletes per page: events (with the index) 2, notifications (at most 2 per event) 2, each
  // entity table (with the index) 2.
  return sources + 3 + partPages * (3 + ENTITY_SOURCES.length) + partPages * (4 + 2 * ENTITY_SOURCES.length);
}

/**
 * Archives the next part of the oldest clinic's day with finished history older than `cutoff`: up to
 * `partPages` pages of events (and their notifications) and of each entity table. Returns the rows
 * written and deleted, or null when nothing is left to archive.
 */
export async function archiveHistoryPart(
  context: ArchiveContext,
  cutoff: string,
  partPages: number,
): Promise<{ lines: number; deleted: number } | null> {
  const unit = await oldestUnitOf(context, [EVENT_SOURCE, ...ENTITY_SOURCES], cutoff);
  if (!unit) return null;
  const range = unitRange(unit, cutoff);
  const lines: ArchiveLine[] = [];
  const events = await readUnitRows(context, EVENT_SOURCE, unit, range, partPages);
  for (let start = 0; start < events.length; start += context.pageRows) {
    const page = events.slice(start, start + context.pageRows);
    lines.push(...page.map((row) => ({ table: "events" as const, row })));
    context.budget.spend(1);
    const notifications = await notificationsOfEvents(
      context.env.DB,
      page.map((row) => String(row.event_id)),
    );
    lines.push(...notifications.map((row) => ({ table: "notifications" as const, row })));
    if (notifications.length === 0) continue;
    context.budget.spend(1);
    const history = await historyOfNotifications(
      context.env.DB,
      notifications.map((row) => String(row.notification_id)),
    );
    lines.push(...history.map((row) => ({ table: "notification_status_history" as const, row })));
  }
  for (const source of ENTITY_SOURCES) {
    const rows = await readUnitRows(context, source, unit, range, partPages);
    lines.push(...rows.map((row) => ({ table: source.table, row })));
  }
  if (lines.length === 0) return null;
  const deleted = await archiveObject(context, "history", unit, lines);
  return { lines: lines.length, deleted };
}
