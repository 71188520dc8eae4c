/**
 * One batch of a queue simulated on its own clock (the outage soaks, bench/outage.ts and
 * bench/forwarding.ts): the Worker's real `queue()` handler gets the messages through Miniflare, and
 * the answer says, per message, whether Cloudflare would deliver it again and after how long.
 */
import type { RuntimeServer } from "./runtime.ts";

export interface SimulatedMessage {
  id: string;
  body: unknown;
  attempts: number;
  /** When the message was enqueued, epoch ms (its `timestamp`). */
  enqueuedAtMs: number;
}

/** Delivers `batch` to `queue`; answers each message's fate: acked, or retried after `delaySeconds`. */
export async function deliverSimulatedBatch(
  worker: Awaited<ReturnType<RuntimeServer["mf"]["getWorker"]>>,
  queue: string,
  batch: readonly SimulatedMessage[],
): Promise<(id: string) => { retry: boolean; delaySeconds: number }> {
  const result = await worker
    .queue(
      queue,
      batch.map((message) => ({
        id: message.id,
        timestamp: new Date(message.enqueuedAtMs),
        body: message.body,
        attempts: message.attempts,
      })),
    )
    .catch(() => null);
  const retries = new Map((result?.retryMessages ?? []).map((retry) => [retry.msgId, retry.delaySeconds ?? 0]));
  const acked = new Set(result?.explicitAcks ?? []);
  const retryAll = result?.outcome !== "ok" || result.retryBatch.retry;
  return (id) => ({
    retry: retries.has(id) || (retryAll && !acked.has(id)),
    delaySeconds: retries.get(id) ?? result?.retryBatch.delaySeconds ?? 0,
  });
}
