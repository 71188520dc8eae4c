import { failDeadNotifications } from "../db/notification-outbox";
import { consumeOutboxDeadLetters } from "../outbox/dead-letter";
import { readSendJob } from "./send-job";

/**
 * The `patient-notifications-dlq` consumer: a send job whose retries ran out marks its outbox row
 * `failed` ("retries exhausted") unless it already reached a final status, so staff see it in the
 * event's notifications. It never overrides a live send lease or a send whose outcome is unknown
 * (see failDeadNotifications): those rows stay with the sender and the sweep. One round trip per batch.
 */
export async function consumeNotificationDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  await consumeOutboxDeadLetters(batch, env, {
    noun: "notification",
    readJob: readSendJob,
    fail: (env, jobs, nowMs) => failDeadNotifications(env.DB, jobs, nowMs),
    ids: (job) => ({ event_id: job.event_id, channel: job.channel }),
  });
}
