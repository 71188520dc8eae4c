import { retryDelaySeconds } from "../backoff";
import { failDeadNotifications } from "../db/notification-outbox";
import { errorKind, log } from "../log";
import { readSendJob } from "./send-job";

/**
 * The `patient-notifications-dlq` consumer: a send job whose retries ran out marks its outbox row
 * `failed` ("retries exhausted") unless it already reached a final status, so staff see it in the
 * event's notifications. It never overrides a live send lease or a send whose outcome is unknown
 * (see failDeadNotifications): those rows stay with the sender and the sweep. One round trip per batch.
 */
export async function consumeNotificationDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const jobs = batch.messages.flatMap((message) => readSendJob(message.body) ?? []);
  let failed: number;
  try {
    failed = await failDeadNotifications(env.DB, jobs, Date.now());
  } catch (error) {
    log.error("dead notification jobs not stored; will retry", { queue: batch.queue, error: errorKind(error) });
    for (const message of batch.messages) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    return;
  }
  for (const message of batch.messages) message.ack();
  for (const job of jobs) log.error("notification dead", { event_id: job.event_id, channel: job.channel });
  if (failed < jobs.length)
    log.info("dead notification jobs not marked failed (final, leased, or outcome unknown)", {
      jobs: jobs.length - failed,
    });
}
