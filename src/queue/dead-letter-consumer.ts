import { DEAD_LETTER_MAX_RETRIES, deadLetterRetryDelaySeconds } from "../backoff";
import { errorKind, log } from "../log";
import { consumeEvents, type Retry, type RetryPolicy } from "./events-consumer";

/**
 * The `novamed-events-dlq` retry policy. A message gets here when the main queue's hour of retries ran
 * out: almost always because D1 was unreachable, otherwise because its handler keeps throwing. So the
 * dead-letter consumer applies the event through the same claim/commit path, backing off for days
 * (deadLetterRetryDelaySeconds) while D1 is down, and records a handler error as `dead` (replayable)
 * at once. A message on its last delivery is not retried (the queue would delete it, as this queue
 * has no dead-letter queue of its own): a fresh copy is sent to this queue instead, which restarts
 * both its retries and its retention, so an acknowledged event outlives any D1 outage.
 */
export function deadLetterRetries(env: Env): RetryPolicy {
  return {
    delaySeconds: (attempts) => deadLetterRetryDelaySeconds(attempts),
    onHandlerError: "dead",
    send: (retries) => respoolOrRetry(env, retries),
  };
}

async function respoolOrRetry(env: Env, retries: readonly Retry[]): Promise<void> {
  const last = retries.filter(({ message }) => message.attempts >= DEAD_LETTER_MAX_RETRIES);
  for (const { message, delaySeconds } of retries) {
    if (message.attempts < DEAD_LETTER_MAX_RETRIES) message.retry({ delaySeconds });
  }
  if (last.length === 0) return;
  try {
    await env.EVENTS_DEAD_LETTER.sendBatch(
      last.map(({ message, delaySeconds }) => ({ body: message.body, contentType: "json", delaySeconds })),
    );
    for (const { message } of last) message.ack();
    log.warn("dead letters re-spooled", { messages: last.length });
  } catch (error) {
    // Nothing better is left than the retry we were avoiding; say so loudly.
    log.error("dead-letter re-spool failed", { messages: last.length, error: errorKind(error) });
    for (const { message, delaySeconds } of last) message.retry({ delaySeconds });
  }
}

/**
 * The `novamed-events-dlq` consumer: the events consumer with the dead-letter retry policy. An event
 * that was never claimed (D1 was down the whole hour) is claimed and applied here once D1 is back; one
 * applied meanwhile (by a replay, or a live lease elsewhere) is acked as a duplicate, never overridden.
 */
export function consumeDeadLetters(
  batch: MessageBatch<unknown>,
  env: Env,
  options: Parameters<typeof consumeEvents>[2] = {},
): Promise<void> {
  return consumeEvents(batch, env, { ...options, retries: deadLetterRetries(env) });
}
