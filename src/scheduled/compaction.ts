import { readEventRowRetentionDays } from "../config/retention";
import { deleteFinalEvents, deleteFinalNotifications } from "../db/compaction";
import { log } from "../log";
import { PURGE_CHUNK_ROWS, PURGE_MAX_CHUNKS } from "./retention";

/**
 * Deletes final event and notification rows older than `EVENT_ROW_RETENTION_DAYS` (0, the default,
 * keeps them), chunk by chunk on the daily cron. An event's row is its deduplication record: it is
 * kept for days, while NovaMed stops redelivering about 1 h 21 min after the first attempt, so every
 * redelivery still finds it. Notifications go first, so none is left pointing at a deleted event.
 */
export async function compactFinalRows(env: Env, now: Date): Promise<{ events: number; notifications: number }> {
  const days = readEventRowRetentionDays(env);
  if (days === 0) return { events: 0, notifications: 0 };
  const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
  const notifications = await inChunks(() => deleteFinalNotifications(env.DB, cutoff, PURGE_CHUNK_ROWS));
  const events = await inChunks(() => deleteFinalEvents(env.DB, cutoff, PURGE_CHUNK_ROWS));
  log.info("row compaction", { retention_days: days, events, notifications });
  return { events, notifications };
}

async function inChunks(deleteChunk: () => Promise<number>): Promise<number> {
  let total = 0;
  for (let chunk = 0; chunk < PURGE_MAX_CHUNKS; chunk += 1) {
    const deleted = await deleteChunk();
    total += deleted;
    if (deleted < PURGE_CHUNK_ROWS) break;
  }
  return total;
}
