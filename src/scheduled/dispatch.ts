import { archiveFinishedHistory, CATCH_UP_ARCHIVE_QUERIES, DAILY_ARCHIVE_QUERIES } from "../archive/run";
import { compactFinalRows } from "./compaction";
import { sweepStuckEvents } from "./event-sweep";
import { sweepNotifications } from "./notification-sweep";
import { purgeExpiredAuditRows, purgeExpiredPayloads } from "./retention";
import { runLifecycleWatch } from "./watch";

/**
 * Cron expressions as declared in wrangler.toml `[triggers]`. The 5-minute one also runs the
 * lifecycle watch (rules, alert deliveries, and the daily digest once its hour has come) and the
 * archive's catch-up; the daily one ends with the archive (src/archive/run.ts).
 */
export const CRONS = {
  notificationSweep: "*/5 * * * *",
  retention: "17 3 * * *",
} as const;

/** The Worker's `scheduled` handler: one job per cron expression. */
export async function scheduled(controller: ScheduledController, env: Env): Promise<void> {
  const now = new Date(controller.scheduledTime);
  switch (controller.cron) {
    case CRONS.notificationSweep:
      await sweepStuckEvents(env, now);
      await sweepNotifications(env, now);
      await runLifecycleWatch(env, now);
      // Drains an archive backlog the daily run could not finish (a few queries when there is none).
      await archiveFinishedHistory(env, now, { queryBudget: CATCH_UP_ARCHIVE_QUERIES });
      return;
    case CRONS.retention:
      await purgeExpiredPayloads(env, now);
      await purgeExpiredAuditRows(env, now);
      await compactFinalRows(env, now);
      await archiveFinishedHistory(env, now, { queryBudget: DAILY_ARCHIVE_QUERIES });
      return;
    default:
      // Unknown schedules (e.g. a manual trigger) run every job; each is idempotent.
      await sweepStuckEvents(env, now);
      await sweepNotifications(env, now);
      await runLifecycleWatch(env, now);
      await purgeExpiredPayloads(env, now);
      await purgeExpiredAuditRows(env, now);
      await compactFinalRows(env, now);
      await archiveFinishedHistory(env, now, { queryBudget: CATCH_UP_ARCHIVE_QUERIES });
  }
}
