import {
  DEAD_LETTER_MAX_RETRIES,
  DEAD_LETTER_RESPOOL_FROM_ATTEMPT,
  deadLetterRetryDelaySeconds,
  RESPOOL_RETRY_DELAY_SECONDS,
} from "../backoff";
import { log } from "../log";
import { enqueueAll } from "./enqueue";
import { consumeEvents, type Retry, type RetryPolicy } from "./events-consumer";

/**
 * The `novamed-events-dlq` retry policy. A message gets here when the main queue's hour of retries ran
 * out: almost always because D1 was unreachable, otherwise because its handler keeps throwing. So the
 * dead-letter consumer applies the event through the same record-and-commit path, backing off for days
 * (deadLetterRetryDelaySeconds) while D1 is down, and records a handler error as `dead` (replayable)
 * at once.
 *
 * From its 14th delivery on ({@link DEAD_LETTER_RESPOOL_FROM_ATTEMPT}) a message D1 still cannot
 * take is not retried: a fresh copy is sent to this queue (new retries, new retention) and the old
 * one acked only once that send succeeded. A failed re-spool is retried after a short delay while
 * deliveries remain (this queue's `max_retries` leaves eight tries), so no single failure, nor a few
 * hours of them, lets Queues delete an event D1 never stored.
 */
export function deadLetterRetries(env: Env): RetryPolicy {
  return {
    delaySeconds: (attempts) => deadLetterRetryDelaySeconds(attempts),
    onHandlerError: "dead",
    send: (retries) => respoolOrRetry(env, retries),
  };
}

async function respoolOrRetry(env: Env, retries: readonly Retry[]): Promise<void> {
  const respool: Retry[] = [];
  for (const retry of retries) {
    if (retry.message.attempts >= DEAD_LETTER_RESPOOL_FROM_ATTEMPT) respool.push(retry);
    else retry.message.retry({ delaySeconds: retry.delaySeconds });
  }
  if (respool.length === 0) return;
  const result = await enqueueAll(env.EVENTS_DEAD_LETTER, respool, ({ message, delaySeconds }) => ({
    body: message.body,
    delaySeconds,
  }));
  for (const { message } of result.sent) message.ack();
  if (result.sent.length > 0) log.warn("dead letters re-spooled", { messages: result.sent.length });
  for (const { message } of result.failed) {
    const last = message.attempts > DEAD_LETTER_MAX_RETRIES;
    // Acking would drop an event D1 never stored; retrying keeps it, and its next delivery re-spools.
    log.error("dead-letter re-spool failed; retrying", {
      message_id: message.id,
      attempts: message.attempts,
      last_delivery: last,
      error: result.errors[0]?.error ?? "unknown",
    });
    message.retry({ delaySeconds: RESPOOL_RETRY_DELAY_SECONDS });
  }
}

/**
 * The `novamed-events-dlq` consumer: the events consumer with the dead-letter retry policy. An event
 * that was never recorded (D1 was down the whole hour) is recorded and applied here once D1 is back;
 * one applied meanwhile (by a replay) is acked as a duplicate, never overridden, and one held by a
 * live lease of the release before waits for it.
 */
export function consumeDeadLetters(
  batch: MessageBatch<unknown>,
  env: Env,
  options: Parameters<typeof consumeEvents>[2] = {},
): Promise<void> {
  return consumeEvents(batch, env, { ...options, retries: deadLetterRetries(env) });
}
