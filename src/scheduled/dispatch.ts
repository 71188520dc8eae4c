import { purgeExpiredPayloads } from "./retention";

/** Cron expressions as declared in wrangler.toml `[triggers]`. */
export const CRONS = {
  retention: "17 3 * * *",
} as const;

/** The Worker's `scheduled` handler: one job per cron expression. */
export async function scheduled(controller: ScheduledController, env: Env): Promise<void> {
  const now = new Date(controller.scheduledTime);
  switch (controller.cron) {
    case CRONS.retention:
      await purgeExpiredPayloads(env, now);
      return;
    default:
      // Unknown schedules (e.g. a manual trigger) run every job; each is idempotent.
      await purgeExpiredPayloads(env, now);
  }
}
