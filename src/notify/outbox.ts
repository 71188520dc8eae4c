import { readNotificationSettings } from "../config/notifications";
import { insertOutboxRow, type SendJob } from "../db/notifications";
import type { ChangeListener } from "../events/handlers";
import { errorKind, log } from "../log";
import { kindOf } from "./rules";

/** Cloudflare Queues accept at most 100 messages per `sendBatch`. */
const SEND_BATCH_LIMIT = 100;

/**
 * Patient notifications, hung off the consumer's change seam. For each applied event that a rule
 * names, one outbox row per channel is written in the same `db.batch` as the state change; after
 * the commit, one send job per row goes to the `patient-notifications` queue. If that enqueue fails,
 * the rows stay `pending` and the sweep (cron) enqueues them later: nothing is lost.
 */
export function notificationListener(env: Env): ChangeListener {
  const { rules } = readNotificationSettings(env);
  return {
    statements(change, guard, db) {
      const channels = rules.get(change.eventType) ?? [];
      return channels.map((channel) =>
        insertOutboxRow(
          db,
          {
            eventId: change.write.eventId,
            channel,
            kind: kindOf(change.eventType),
            patientId: change.write.patientId,
            entityKind: change.write.kind,
            entityId: change.write.entityId,
          },
          guard,
        ),
      );
    },
    async afterCommit(committed, workerEnv) {
      const jobs: SendJob[] = committed.flatMap((change) =>
        (rules.get(change.eventType) ?? []).map((channel) => ({ event_id: change.write.eventId, channel })),
      );
      await enqueueSendJobs(workerEnv, jobs);
    },
  };
}

/** Sends jobs to the notification queue in chunks; failures are logged and left to the sweep. */
export async function enqueueSendJobs(env: Env, jobs: readonly SendJob[], delaySeconds?: number): Promise<number> {
  let enqueued = 0;
  for (let start = 0; start < jobs.length; start += SEND_BATCH_LIMIT) {
    const chunk = jobs.slice(start, start + SEND_BATCH_LIMIT);
    try {
      await env.NOTIFICATIONS.sendBatch(chunk.map((body) => ({ body, contentType: "json" as const, delaySeconds })));
      enqueued += chunk.length;
    } catch (error) {
      log.error("notification enqueue failed; the sweep will retry", { jobs: chunk.length, error: errorKind(error) });
    }
  }
  return enqueued;
}
