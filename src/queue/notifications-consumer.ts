import { retryDelaySeconds } from "../backoff";
import { log } from "../log";
import { type QueuedJob, type SenderCounts, type SenderOptions, sendNotifications } from "../notify/sender";
import { enqueueAll } from "./enqueue";
import { readSendJob } from "./send-job";

/**
 * The `patient-notifications` consumer, a thin adapter around the sender (src/notify/sender.ts):
 * reads each message as a send job (an unreadable one is acked and logged), lets the sender decide,
 * enqueues scheduled SMS again with their delay, then acks or retries each message by its verdict.
 */
export async function consumeNotifications(
  batch: MessageBatch<unknown>,
  env: Env,
  options: SenderOptions = {},
): Promise<void> {
  const started = Date.now();
  const messages: Message<unknown>[] = [];
  const jobs: QueuedJob[] = [];
  for (const message of batch.messages) {
    const job = readSendJob(message.body);
    if (job) {
      messages.push(message);
      jobs.push({ job, attempts: message.attempts });
    } else {
      log.error("notification job unreadable", { queue: batch.queue, message_id: message.id });
      message.ack();
    }
  }
  if (jobs.length === 0) return;

  const { verdicts, delayed, counts } = await sendNotifications(env, jobs, options);
  if (delayed.length > 0) {
    // If this fails the rows stay `scheduled` and the sweep enqueues them once their window opens.
    const result = await enqueueAll(env.NOTIFICATIONS, delayed, ({ job, delaySeconds }) => ({
      body: job,
      delaySeconds,
    }));
    for (const error of result.errors) {
      log.error("scheduled enqueue failed; the sweep will retry", { jobs: error.messages, error: error.error });
    }
  }
  messages.forEach((message, index) => {
    const verdict = verdicts[index] ?? { action: "retry" };
    if (verdict.action === "ack") message.ack();
    else message.retry({ delaySeconds: verdict.notBeforeSeconds ?? retryDelaySeconds(message.attempts) });
  });
  logBatch(batch.queue, counts, started);
}

function logBatch(queue: string, counts: SenderCounts, started: number): void {
  log.info("notification batch", { queue, ...counts, duration_ms: Date.now() - started });
}
