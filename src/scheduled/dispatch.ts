import { archiveFinishedHistory, CATCH_UP_ARCHIVE_QUERIES, DAILY_ARCHIVE_QUERIES } from "../archive/run";
import { rangesOfDay } from "../archive/shelf";
import { ConfigError } from "../config/read";
import { purgeOldRejections } from "../db/rejections";
import { fanOut } from "../forwarding/fan-out";
import { errorKind, log } from "../log";
import { drainPendingPatients } from "../search/patient-index";
import { runLifecycleWatch } from "../watch/run";
import { compactFinalRows } from "./compaction";
import { sweepStuckEvents } from "./event-sweep";
import { sweepForwarding } from "./forwarding-sweep";
import { sweepNotifications } from "./notification-sweep";
import { purgeExpiredAuditRows, purgeExpiredChanges, purgeExpiredPayloads } from "./retention";

/**
 * Cron expressions as declared in wrangler.toml `[triggers]`. The 5-minute one also runs the
 * lifecycle watch (rules, alert deliveries, and the daily digest once its hour has come) and the
 * archive's catch-up; the daily one ends with the archive (src/archive/run.ts).
 */
export const CRONS = {
  notificationSweep: "*/5 * * * *",
  retention: "17 3 * * *",
  forwarding: "* * * * *",
} as const;

type Job = (env: Env, now: Date) => Promise<unknown>;

/** The jobs of each cron, in order; each reads only its own settings. */
const FIVE_MINUTE_JOBS: Record<string, Job> = {
  event_sweep: sweepStuckEvents,
  notification_sweep: sweepNotifications,
  forwarding_sweep: sweepForwarding,
  lifecycle_watch: runLifecycleWatch,
  // Digests of patients written without them (and the rows from before the search index).
  patient_search_index: (env) => drainPendingPatients(env),
  // Drains an archive backlog the daily run could not finish (a few queries when there is none).
  archive_catch_up: (env, now) => archiveFinishedHistory(env, now, { queryBudget: CATCH_UP_ARCHIVE_QUERIES }),
};
const MINUTE_JOBS: Record<string, Job> = {
  forwarding_fan_out: fanOut,
};
const DAILY_PURGES: Record<string, Job> = {
  payload_retention: purgeExpiredPayloads,
  audit_retention: purgeExpiredAuditRows,
  change_feed_retention: purgeExpiredChanges,
  row_compaction: compactFinalRows,
  rejection_counts: (env, now) => purgeOldRejections(env.DB, now),
};
const DAILY_JOBS: Record<string, Job> = {
  ...DAILY_PURGES,
  archive: (env, now) =>
    archiveFinishedHistory(env, now, { queryBudget: DAILY_ARCHIVE_QUERIES, shelfRanges: rangesOfDay(now) }),
};

/** The Worker's `scheduled` handler: one set of jobs per cron expression. */
export async function scheduled(controller: ScheduledController, env: Env): Promise<void> {
  const now = new Date(controller.scheduledTime);
  switch (controller.cron) {
    case CRONS.notificationSweep:
      return runJobs(FIVE_MINUTE_JOBS, env, now);
    case CRONS.retention:
      return runJobs(DAILY_JOBS, env, now);
    case CRONS.forwarding:
      return runJobs(MINUTE_JOBS, env, now);
    default:
      // Unknown schedules (e.g. a manual trigger) run every job; each is idempotent.
      // The archive runs once, with the catch-up budget, so the whole run stays under D1's query limit.
      return runJobs({ ...MINUTE_JOBS, ...FIVE_MINUTE_JOBS, ...DAILY_PURGES }, env, now);
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
