import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  type MessageBatchMessage,
  type QueueResult,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import { getEventRow } from "../../src/db/events";
import { ALL_CLINICS } from "../../src/db/scope";
import worker from "../../src/index";
import { consumeDeadLetters } from "../../src/queue/dead-letter-consumer";
import { QUEUES } from "../../src/queue/dispatch";
import { wrapDatabase } from "./d1";
import { type EnvelopeLike, uniqueId } from "./events";
import { WAIT } from "./wait";

/**
 * How long a claim of the release before lasted. That release claimed an event `processing` under a
 * lease in one round trip and applied it in the next; a row it left `processing` is taken over once
 * its lease has expired (and swept back onto the queue: src/db/event-requeue.ts). Tests build such
 * rows with it; this release never leaves an event `processing`.
 */
export const LEGACY_LEASE_MS = 120_000;

export const EVENTS_QUEUE = QUEUES.events;
export const EVENTS_DLQ = QUEUES.eventsDeadLetter;

/** A `novamed-events` message as the edge sends it. */
export function eventMessage(envelope: EnvelopeLike, attempts = 1): MessageBatchMessage {
  return {
    id: uniqueId("msg"),
    timestamp: new Date(),
    attempts,
    body: { envelope, received_at: new Date().toISOString(), request_id: uniqueId("req") },
  };
}

/**
 * Runs one batch through `consume` (by default the Worker's own `queue` handler) and returns what it
 * acked and retried. The test runtime's `retry()` drops its options, so the delays are recorded here.
 */
export async function runBatch(
  queue: string,
  messages: MessageBatchMessage[],
  workerEnv: Env = env,
  consume: (batch: MessageBatch<unknown>, env: Env) => Promise<void> = (batch, batchEnv) =>
    worker.queue(batch, batchEnv),
): Promise<QueueResult> {
  const batch = createMessageBatch(queue, messages);
  const delays = new Map<string, number | undefined>();
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    message.retry = (options?: QueueRetryOptions) => {
      delays.set(message.id, options?.delaySeconds);
      retry(options);
    };
  }
  const ctx = createExecutionContext();
  await consume(batch, workerEnv);
  const result = await getQueueResult(batch, ctx);
  return {
    ...result,
    retryMessages: result.retryMessages.map((retry) => ({ ...retry, delaySeconds: delays.get(retry.msgId) })),
  };
}

/** The stored event row, failing loudly when it is missing. */
export async function eventRow(eventId: string) {
  const row = await getEventRow(env.DB, ALL_CLINICS, eventId);
  if (!row) throw new Error(`no event row for ${eventId}`);
  return row;
}

/** The event's row once the real queue and consumer have processed it (a replay, a redelivery). */
export function processedRow(eventId: string) {
  return vi.waitFor(async () => {
    const current = await eventRow(eventId);
    if (!(current.status === "processed")) throw new Error("not yet");
    return current;
  }, WAIT);
}

/**
 * Wraps a D1 binding to count round trips (every `batch`, `exec`, and every `run`/`all`/`first`/`raw`
 * of a statement prepared through it) and queries as D1's per-invocation limit counts them (each
 * statement of a `batch` is one, a failed one too).
 */
const PROXY_TARGET = Symbol("target");

export function countingDatabase(db: D1Database): {
  db: D1Database;
  roundTrips: () => number;
  queries: () => number;
} {
  let count = 0;
  let queries = 0;
  const wrapStatement = (statement: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(statement, {
      get(target, property, receiver) {
        if (property === PROXY_TARGET) return target;
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        if (property === "bind") return (...args: unknown[]) => wrapStatement(value.apply(target, args));
        if (["run", "all", "first", "raw"].includes(String(property))) {
          return (...args: unknown[]) => {
            count += 1;
            queries += 1;
            return value.apply(target, args);
          };
        }
        return value.bind(target);
      },
    });
  const wrapped = wrapDatabase(db, {
    prepare: (sql, prepare) => wrapStatement(prepare(sql)),
    batch: (statements, batch) => {
      count += 1;
      queries += statements.length;
      // D1 wants its own statement objects back, not our proxies.
      return batch(statements.map(unproxy));
    },
    exec: (query, exec) => {
      count += 1;
      queries += 1;
      return exec(query);
    },
  });
  return { db: wrapped, roundTrips: () => count, queries: () => queries };
}

function unproxy(statement: D1PreparedStatement): D1PreparedStatement {
  return (statement as unknown as Record<symbol, D1PreparedStatement>)[PROXY_TARGET] ?? statement;
}

/**
 * A D1 binding whose `batch` calls `hook` first (with the 1-based batch number); a hook that throws
 * fails that batch as D1 would, before anything is written. A hook that returns "lose-answer" lets
 * the batch commit and then throws, as when D1 committed but its answer never arrived.
 */
export function withBatchHook(db: D1Database, hook: (batchNumber: number) => unknown): D1Database {
  let batches = 0;
  return wrapDatabase(db, {
    batch: async (statements, batch) => {
      batches += 1;
      const mode = await hook(batches);
      const results = await batch(statements);
      if (mode === "lose-answer") throw new Error("D1_ERROR: network connection lost");
      return results;
    },
  });
}

/**
 * Runs `envelope` through the events dead-letter consumer with a handler that keeps throwing, which
 * is how an event ends `dead` (a D1 outage instead keeps it retrying until D1 is back).
 */
export async function runDeadLetter(envelope: EnvelopeLike, attempts = 1): Promise<QueueResult> {
  const failingHandler = {
    statements: () => {
      throw new Error("handler bug");
    },
  };
  return runBatch(EVENTS_DLQ, [eventMessage(envelope, attempts)], env, (batch, batchEnv) =>
    consumeDeadLetters(batch, batchEnv, { listeners: [failingHandler] }),
  );
}

/**
 * A queue producer that enforces Cloudflare's limits as Queues do (the local binding does not check
 * sizes): a `sendBatch` of more than 100 messages or 256 KB, or any message over 128 KB, throws and
 * sends nothing. `failNext` makes the next `count` calls fail as an unreachable queue would. Records
 * every accepted message and the size of every accepted call.
 */
export function limitedQueue(): {
  queue: Queue;
  sent: MessageSendRequest[];
  calls: { messages: number; bytes: number }[];
  failNext: (count: number) => void;
} {
  const sent: MessageSendRequest[] = [];
  const calls: { messages: number; bytes: number }[] = [];
  let failures = 0;
  const size = (body: unknown) => new TextEncoder().encode(JSON.stringify(body)).byteLength;
  const accept = (messages: MessageSendRequest[]) => {
    if (failures > 0) {
      failures -= 1;
      throw new Error("Queue send failed: service unavailable");
    }
    if (messages.length > 100) throw new Error(`Queue sendBatch failed: ${messages.length} messages is over 100`);
    const sizes = messages.map((message) => size(message.body));
    if (sizes.some((bytes) => bytes > 128 * 1024)) throw new Error("Queue send failed: message over 128 KB");
    const bytes = sizes.reduce((total, each) => total + each, 0);
    if (bytes > 256 * 1024) throw new Error(`Queue sendBatch failed: batch of ${bytes} bytes is over 256 KB`);
    calls.push({ messages: messages.length, bytes });
    sent.push(...messages);
  };
  const queue = {
    send: async (body: unknown, options?: QueueSendOptions) => accept([{ body, ...options }]),
    sendBatch: async (messages: Iterable<MessageSendRequest>) => accept([...messages]),
  } as unknown as Queue;
  return { queue, sent, calls, failNext: (count) => (failures += count) };
}

/** A body of `bytes` printable characters, to bring an event near a size without touching its schema. */
export function padding(bytes: number): string {
  return "x".repeat(bytes);
}
