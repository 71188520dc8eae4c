/**
 * Bench-only cost ledger: what each stage of the receiver (edge, events consumer, sender, dead-letter
 * consumer, crons) asks of D1 and Queues, summed from the runtime's own answers. Every D1 statement's
 * result `meta` (`rows_read`, `rows_written`, `changes`) is added to its stage, per SQL text, so the
 * harness can both total what the runtime reports and recompute rows written by D1's billing rule
 * (bench/cost.ts). Queue sends are counted in 64 KB chunks, deliveries, acks and retries per message;
 * the archive bucket's operations by R2's billing class.
 */

import { countingBucket, emptyLedger, recordResult, type Stage, type StageLedger } from "../batch-record";

export type { Stage, StageLedger };
export { countingBucket, recordResult };

let ledgers: Partial<Record<Stage, StageLedger>> = {};

export function ledgerOf(stage: Stage): StageLedger {
  ledgers[stage] ??= emptyLedger();
  return ledgers[stage]!;
}

/** The ledgers so far, cleared. */
export function takeLedgers(): Partial<Record<Stage, StageLedger>> {
  const taken = ledgers;
  ledgers = {};
  return taken;
}

/** Queues bills a write, read and delete per 64 KB of a message. */
export const QUEUE_CHUNK_BYTES = 64 * 1024;
export function chunksOf(body: unknown): number {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body).byteLength : jsonBytes(body);
  return Math.max(1, Math.ceil(bytes / QUEUE_CHUNK_BYTES));
}
function jsonBytes(body: unknown): number {
  return new TextEncoder().encode(JSON.stringify(body) ?? "").byteLength;
}

/** A producer binding whose sends are counted (messages and 64 KB chunks) into `ledger`. */
export function countingQueue(queue: Queue, ledger: StageLedger): Queue {
  return new Proxy(queue, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (property === "send")
        return (body: unknown, options?: QueueSendOptions) => {
          ledger.queue_messages_sent += 1;
          ledger.queue_write_chunks += chunksOf(body);
          return value.call(target, body, options);
        };
      if (property === "sendBatch")
        return (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
          const all = [...messages];
          ledger.queue_messages_sent += all.length;
          for (const message of all) ledger.queue_write_chunks += chunksOf(message.body);
          return value.call(target, all, options);
        };
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
