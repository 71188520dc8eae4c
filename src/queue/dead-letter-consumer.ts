import { type DeadLetter, recordDeadLetters } from "../db/events";
import { errorKind, log } from "../log";
import { retryDelaySeconds } from "./backoff";
import { claimRequestOf, readEventMessage } from "./event-message";

/**
 * The `novamed-events-dlq` consumer: every event whose retries ran out is written to D1 as `dead`,
 * with its payload and last error, so it outlives Cloudflare's queue retention and can be replayed
 * from the admin API. One round trip per batch; a D1 failure retries the batch (nothing is acked
 * before it is stored).
 */
export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const letters: DeadLetter[] = [];
  for (const message of batch.messages) {
    const read = await readEventMessage(message.body);
    if (!read) {
      log.error("dead letter unreadable", { queue: batch.queue, message_id: message.id });
      continue;
    }
    letters.push({ ...claimRequestOf(read), attempts: message.attempts, error: "retries exhausted" });
  }
  try {
    await recordDeadLetters(env.DB, letters);
  } catch (error) {
    log.error("dead letters not stored; will retry", {
      queue: batch.queue,
      messages: batch.messages.length,
      error: errorKind(error),
    });
    for (const message of batch.messages) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    return;
  }
  for (const message of batch.messages) message.ack();
  for (const letter of letters) log.error("event dead", { event_id: letter.eventId, event_type: letter.eventType });
  log.info("dead letter batch", { queue: batch.queue, messages: batch.messages.length, stored: letters.length });
}
