import { z } from "zod";
import { retryDelaySeconds } from "../backoff";
import { type DeliveryKey, deadLetterDeliveries } from "../db/deliveries";
import { deliverChanges } from "../forwarding/deliver";
import { enqueueDeliveryJobs, fanOut } from "../forwarding/fan-out";
import { errorKind, log } from "../log";
import { consumeOutboxDeadLetters } from "../outbox/dead-letter";

const jobSchema = z.object({ change_id: z.string().min(1), destination_id: z.string().min(1) });

/** A delivery job from a message body, or null for an unreadable one (acked without effect). */
export function readDeliveryJob(body: unknown): DeliveryKey | null {
  const parsed = jobSchema.safeParse(body);
  return parsed.success ? parsed.data : null;
}

/**
 * The `clinic-deliveries` consumer: delivery jobs are delivered (src/forwarding/deliver.ts), the ones
 * to retry are enqueued again with their delay, and then new changes are fanned out, so a busy
 * destination does not wait for the next minute's fan-out. While D1 cannot be read, every message
 * is retried.
 */
export async function consumeClinicDeliveries(
  batch: MessageBatch<unknown>,
  env: Env,
  options: { now?: () => number } = {},
): Promise<void> {
  const now = options.now ?? Date.now;
  const jobs = batch.messages.flatMap((message) => readDeliveryJob(message.body) ?? []);
  try {
    if (jobs.length > 0) {
      const result = await deliverChanges(env, jobs, now);
      const delays = new Map(result.later.map(({ job, delaySeconds }) => [job, delaySeconds]));
      await enqueueDeliveryJobs(env, [...delays.keys()], delays);
      log.info("clinic deliveries", {
        delivered: result.delivered,
        retrying: result.retrying,
        failed: result.failed,
      });
    }
  } catch (error) {
    log.error("clinic deliveries not processed; will retry", { error: errorKind(error) });
    for (const message of batch.messages) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    return;
  }
  batch.ackAll();
  // After the batch is settled: a failing fan-out must not retry deliveries already recorded (the
  // minute's cron fans out what this one could not).
  try {
    await fanOut(env, new Date(now()));
  } catch (error) {
    log.warn("fan-out after deliveries failed; the cron fans out", { error: errorKind(error) });
  }
}

/** `clinic-deliveries-dlq`: a job whose retries ran out marks its row `failed` (retries exhausted). */
export async function consumeClinicDeliveryDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  await consumeOutboxDeadLetters(batch, env, {
    noun: "clinic delivery",
    readJob: readDeliveryJob,
    fail: (env, jobs, nowMs) => deadLetterDeliveries(env.DB, jobs, nowMs),
    ids: (job) => ({ change_id: job.change_id, destination_id: job.destination_id }),
  });
}
