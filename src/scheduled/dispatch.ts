import { ConfigError } from "../config/read";
import { errorKind, log } from "../log";
import { compactFinalRows } from "./compaction";
import { sweepStuckEvents } from "./event-sweep";
import { sweepNotifications } from "./notification-sweep";
import { purgeExpiredAuditRows, purgeExpiredPayloads } from "./retention";
import { runLifecycleWatch } from "./watch";

/**
 * Cron expressions as declared in wrangler.toml `[triggers]`. The 5-minute one also runs the
 * lifecycle watch (rules, alert deliveries, and the daily digest once its hour has come).
 */
export const CRONS = {
  notificationSweep: "*/5 * * * *",
  retention: "17 3 * * *",
} as const;

type Job = (env: Env, now: Date) => Promise<unknown>;

/** The jobs of each cron, in order; each reads only its own settings. */
const FIVE_MINUTE_JOBS: Record<string, Job> = {
  event_sweep: sweepStuckEvents,
  notification_sweep: sweepNotifications,
  lifecycle_watch: runLifecycleWatch,
};
const DAILY_JOBS: Record<string, Job> = {
  payload_retention: purgeExpiredPayloads,
  audit_retention: purgeExpiredAuditRows,
  row_compaction: compactFinalRows,
};

/** The Worker's `scheduled` handler: one set of jobs per cron expression. */
export async function scheduled(controller: ScheduledController, env: Env): Promise<void> {
  const now = new Date(controller.scheduledTime);
  switch (controller.cron) {
    case CRONS.notificationSweep:
      return runJobs(FIVE_MINUTE_JOBS, env, now);
    case CRONS.retention:
      return runJobs(DAILY_JOBS, env, now);
    default:
      // Unknown schedules (e.g. a manual trigger) run every job; each is idempotent.
      return runJobs({ ...FIVE_MINUTE_JOBS, ...DAILY_JOBS }, env, now);
  }
}

/**
 * Runs every job even when one fails, so one bad setting or one failing query stops only its own
 * job. A malformed setting (a ConfigError) is logged by variable name and left to the lifecycle
 * watch's `config_problem` rule, which raises it within 5 minutes; any other failure is logged and
 * rethrown once the other jobs have run, so the invocation still shows as failed.
 */
async function runJobs(jobs: Record<string, Job>, env: Env, now: Date): Promise<void> {
  const failures: unknown[] = [];
  for (const [job, run] of Object.entries(jobs)) {
    try {
      await run(env, now);
    } catch (error) {
      if (error instanceof ConfigError) {
        log.warn("scheduled job skipped: configuration problem", { job, variable: error.variable });
        continue;
      }
      log.error("scheduled job failed", { job, error: errorKind(error) });
      failures.push(error);
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `${failures.length} scheduled jobs failed`);
}
