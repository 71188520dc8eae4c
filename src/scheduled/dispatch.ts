import { compactFinalRows } from "./compaction";
import { sweepNotifications } from "./notification-sweep";
import { purgeExpiredPayloads } from "./retention";

/** Cron expressions as declared in wrangler.toml `[triggers]`. */
export const CRONS = {
  notificationSweep: "*/5 * * * *",
  retention: "17 3 * * *",
} as const;

/** The Worker's `scheduled` handler: one job per cron expression. */
export async function scheduled(controller: ScheduledController, env: Env): Promise<void> {
  const now = new Date(controller.scheduledTime);
  switch (controller.cron) {
    case CRONS.notificationSweep:
      await sweepNotifications(env, now);
      return;
    case CRONS.retention:
      await purgeExpiredPayloads(env, now);
      await compactFinalRows(env, now);
      return;
    default:
      // Unknown schedules (e.g. a manual trigger) run every job; each is idempotent.
      await sweepNotifications(env, now);
      await purgeExpiredPayloads(env, now);
      await compactFinalRows(env, now);
  }
}
