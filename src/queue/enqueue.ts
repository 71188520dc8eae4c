/**
 * The one way this Worker sends queue messages. Cloudflare Queues refuse a `sendBatch` of more than
 * 100 messages or 256 KB, and any message over 128 KB; a refused call sends nothing. Every sender
 * (the edge, replays, the stuck-event sweep, the dead-letter re-spool, notification jobs and their
 * sweep) goes through {@link enqueueAll}, which cuts chunks by count and by serialised size, so a
 * send of 5 events of 60 KB or 100 of 3.5 KB is several calls, each one Queues accepts.
 *
 * A leaf module (it imports nothing of ours), so `notify/` can use it as well as `queue/`.
 */

/** Queues' limits (https://developers.cloudflare.com/queues/platform/limits/). */
export const QUEUE_LIMITS = {
  messagesPerBatch: 100,
  bytesPerBatch: 256 * 1024,
  bytesPerMessage: 128 * 1024,
} as const;

/**
 * What a chunk may hold, below the limits: Queues count their own per-message metadata into the
 * batch's size, so each message is charged this much on top of its body and a chunk stops at 224 KiB.
 */
const MESSAGE_OVERHEAD_BYTES = 1024;
const BATCH_BUDGET_BYTES = 224 * 1024;

const encoder = new TextEncoder();

/** The size Queues see for a message body sent with `contentType: "json"`. */
export function serialisedBytes(body: unknown): number {
  return encoder.encode(JSON.stringify(body)).byteLength;
}

/** What a send came to: the items that went out, the ones that did not, and why (error kinds only). */
export interface EnqueueResult<T> {
  sent: T[];
  failed: T[];
  /** One entry per refused chunk or oversized message: its size and the error's name, never content. */
  errors: { messages: number; bytes: number; error: string }[];
}

/** Anything with `sendBatch`: a producer binding, or a test double standing in for one. */
type Producer = Pick<Queue, "sendBatch">;

/**
 * Sends `items` to `queue` as JSON messages (`body` of each, optional `delaySeconds`), in as many
 * `sendBatch` calls as the limits need. Chunks are cut in order; a chunk that fails does not stop
 * the ones after it. An item whose body alone is over the per-message limit is never sent (Queues
 * would refuse its whole chunk) and comes back in `failed`. Never throws.
 */
export async function enqueueAll<T>(
  queue: Producer,
  items: readonly T[],
  toMessage: (item: T) => { body: unknown; delaySeconds?: number },
): Promise<EnqueueResult<T>> {
  const result: EnqueueResult<T> = { sent: [], failed: [], errors: [] };
  let chunk: { item: T; request: MessageSendRequest }[] = [];
  let chunkBytes = 0;

  const flush = async () => {
    if (chunk.length === 0) return;
    const current = chunk;
    const bytes = chunkBytes;
    chunk = [];
    chunkBytes = 0;
    try {
      await queue.sendBatch(current.map(({ request }) => request));
      result.sent.push(...current.map(({ item }) => item));
    } catch (error) {
      result.failed.push(...current.map(({ item }) => item));
      result.errors.push({ messages: current.length, bytes, error: errorName(error) });
    }
  };

  for (const item of items) {
    const { body, delaySeconds } = toMessage(item);
    const bytes = serialisedBytes(body);
    if (bytes + MESSAGE_OVERHEAD_BYTES > QUEUE_LIMITS.bytesPerMessage) {
      result.failed.push(item);
      result.errors.push({ messages: 1, bytes, error: "MessageTooLarge" });
      continue;
    }
    const charged = bytes + MESSAGE_OVERHEAD_BYTES;
    if (chunk.length === QUEUE_LIMITS.messagesPerBatch || chunkBytes + charged > BATCH_BUDGET_BYTES) await flush();
    const request: MessageSendRequest = { body, contentType: "json" };
    if (delaySeconds !== undefined) request.delaySeconds = delaySeconds;
    chunk.push({ item, request });
    chunkBytes += charged;
  }
  await flush();
  return result;
}

/**
 * Sends one message (the edge's enqueue of a webhook). Throws, sending nothing, when the body is
 * over the per-message limit, or when Queues refuse it: the edge then answers 503 and NovaMed retries.
 */
export async function enqueueOne(queue: Pick<Queue, "send">, body: unknown): Promise<void> {
  const bytes = serialisedBytes(body);
  if (bytes + MESSAGE_OVERHEAD_BYTES > QUEUE_LIMITS.bytesPerMessage) {
    throw new RangeError(`a message of ${bytes} bytes is over the queue's per-message limit`);
  }
  await queue.send(body, { contentType: "json" });
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
