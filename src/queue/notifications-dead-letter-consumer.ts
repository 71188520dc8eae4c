import { retryDelaySeconds } from "../backoff";
import { failDeadNotifications, readSendJob } from "../db/notifications";
import { errorKind, log } from "../log";

/**
 * The `patient-notifications-dlq` consumer: a send job whose retries ran out marks its outbox row
 * `failed` ("retries exhausted") unless it already reached a final status, so staff see it in the
 * event's notifications. One round trip per batch.
 */
export async function consumeNotificationDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const jobs = batch.messages.flatMap((message) => readSendJob(message.body) ?? []);
  try {
    await failDeadNotifications(env.DB, jobs, new Date().toISOString());
  } catch (error) {
    log.error("dead notification jobs not stored; will retry", { queue: batch.queue, error: errorKind(error) });
    for (const message of batch.messages) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    return;
  }
  for (const message of batch.messages) message.ack();
  for (const job of jobs) log.error("notification dead", { event_id: job.event_id, channel: job.channel });
}
