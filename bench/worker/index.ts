/**
 * The bench entry: the receiver's Worker (src/index.ts) with instrumented bindings, for the pipeline,
 * faults and outage parts of `npm run bench` only (the ACK part runs the production bundle as is).
 *
 * - Every queue and scheduled invocation gets its own `DB` wrapper that counts D1 round trips and,
 *   when the run asks for it, injects transient failures (bench/worker/faults.ts).
 * - Each queue batch is recorded (messages, acks, retries, round trips, duration) from the messages'
 *   own `ack`/`retry` calls, so the harness reads outcomes from bindings and D1, never from log text.
 * - With `capture`, what the Worker sends to its queues (all of them, or the ones named) is kept here
 *   instead of being enqueued, so the outage soaks can deliver it on their own simulated clock.
 * - With `clock_offset_ms`, the forwarding consumer (`clinic-deliveries`) runs on that simulated
 *   clock (`Date.now()` plus the offset) through its `now` option: the forwarding outage soak's 72 h
 *   of backoff and circuit. Only this bench build has the hook; the receiver's own entry has none.
 *
 * `/__bench/*` is answered here and never reaches the receiver: POST `/__bench/control` sets the
 * fault plan (`{"rate", "down", "capture", "clock_offset_ms"}`), GET `/__bench/batches` and `/__bench/captured` return
 * and clear what was recorded.
 */
import worker from "../../src/index";
import { consumeClinicDeliveries } from "../../src/queue/clinic-deliveries-consumer";
import type { BatchRecord, CapturedMessage } from "../batch-record";
import { type FaultPlan, instrumentedDatabase } from "./faults";
import { chunksOf, countingBucket, countingQueue, ledgerOf, type Stage, type StageLedger, takeLedgers } from "./ledger";

/** Producer binding → queue name, as in wrangler.toml. */
const PRODUCERS = {
  EVENTS: "novamed-events",
  EVENTS_DEAD_LETTER: "novamed-events-dlq",
  NOTIFICATIONS: "patient-notifications",
  DELIVERIES: "clinic-deliveries",
} as const;

const plan: FaultPlan = { rate: 0, down: false, random: Math.random };
/** Queues whose sends are captured: every one (`true`), the ones named, or none. */
let capture: boolean | string[] = false;
const captures = (queue: string) => capture === true || (Array.isArray(capture) && capture.includes(queue));
/** The forwarding consumer's simulated clock, as an offset from `Date.now()`; null: the wall clock. */
let clockOffsetMs: number | null = null;
let batches: BatchRecord[] = [];
let captured: CapturedMessage[] = [];

/**
 * Refuses a send as Cloudflare Queues do (the local queue checks no sizes): more than 100 messages
 * or 256 KB in one `sendBatch`, or a message over 128 KB, fails the whole call and sends nothing.
 */
function checkQueueLimits(bodies: readonly unknown[]): void {
  const sizes = bodies.map((body) => new TextEncoder().encode(JSON.stringify(body)).byteLength);
  if (bodies.length > 100) throw new Error(`Queue sendBatch refused: ${bodies.length} messages (limit 100)`);
  if (sizes.some((size) => size > 128 * 1024)) throw new Error("Queue send refused: a message over 128 KB");
  const total = sizes.reduce((sum, size) => sum + size, 0);
  if (total > 256 * 1024) throw new Error(`Queue sendBatch refused: ${total} bytes (limit 256 KB)`);
}

function capturingQueue(queue: string): Queue {
  const keep = (body: unknown, delaySeconds = 0) => void captured.push({ queue, body, delaySeconds });
  return {
    send: async (body: unknown, options?: QueueSendOptions) => {
      checkQueueLimits([body]);
      keep(body, options?.delaySeconds);
    },
    sendBatch: async (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
      const all = [...messages];
      checkQueueLimits(all.map((message) => message.body));
      for (const message of all) keep(message.body, message.delaySeconds ?? options?.delaySeconds);
    },
  } as unknown as Queue;
}

/** The stage a queue's consumer is, for the cost ledger. */
const CONSUMER_STAGE: Record<string, Stage> = {
  [PRODUCERS.EVENTS]: "events_consumer",
  [PRODUCERS.EVENTS_DEAD_LETTER]: "dead_letter",
  [PRODUCERS.NOTIFICATIONS]: "sender",
};

/**
 * `env` with this invocation's D1 wrapper (counting round trips and adding every statement's `meta`
 * to `ledger`) and its queue producers counted into `ledger`, or, when capturing, the capturing queues.
 */
function instrumentedEnv(env: Env, counter: { roundTrips: number }, ledger: StageLedger): Env {
  const faulty = plan.down || plan.rate > 0;
  return {
    ...env,
    DB: instrumentedDatabase(env.DB, counter, faulty ? plan : null, ledger),
    ARCHIVE: countingBucket(env.ARCHIVE, ledger),
    ...(Object.fromEntries(
      Object.entries(PRODUCERS).map(([binding, queue]) => [
        binding,
        captures(queue)
          ? capturingQueue(queue)
          : countingQueue(env[binding as keyof typeof PRODUCERS] as Queue, ledger),
      ]),
    ) as Pick<Env, keyof typeof PRODUCERS>),
  };
}

/**
 * The edge's instrumented `env`, one per (env, ledger, fault mode) rather than per request: the
 * receiver caches its parsed settings by `env` (src/config/read.ts), as workerd hands every request
 * of an isolate the same one, so a new object per request re-parsed the configuration on every
 * delivery, CPU production does not spend (`--profile` showed it).
 */
let edge: { env: Env; ledger: StageLedger; faulty: boolean; instrumented: Env } | null = null;
function edgeEnv(env: Env, ledger: StageLedger): Env {
  const faulty = plan.down || plan.rate > 0;
  if (edge?.env !== env || edge.ledger !== ledger || edge.faulty !== faulty)
    edge = { env, ledger, faulty, instrumented: instrumentedEnv(env, { roundTrips: 0 }, ledger) };
  return edge.instrumented;
}

function eventIdOf(body: unknown): string | null {
  const envelope = (body as { envelope?: { event_id?: unknown } } | null)?.envelope;
  return typeof envelope?.event_id === "string" ? envelope.event_id : null;
}

/** The batch with each message's `ack`/`retry` recorded into `record` before reaching the runtime. */
function recordingBatch(batch: MessageBatch<unknown>, record: BatchRecord): MessageBatch<unknown> {
  const outcome = new Map<string, "ack" | "retry">();
  const retriedIds = new Set<string>();
  // Counted as they change (a later call for a message replaces its earlier outcome): recounting the
  // whole batch on every ack made the bench's own bookkeeping quadratic in the batch size, CPU the
  // pipeline's figures then charged to the receiver (`--profile` showed it).
  const note = (message: Message<unknown>, what: "ack" | "retry") => {
    const before = outcome.get(message.id);
    if (before === what) return;
    if (before === "ack") record.acked -= 1;
    if (before === "retry") record.retried -= 1;
    outcome.set(message.id, what);
    if (what === "ack") record.acked += 1;
    else {
      record.retried += 1;
      const id = eventIdOf(message.body);
      if (id && !retriedIds.has(id)) {
        retriedIds.add(id);
        record.retried_event_ids = [...retriedIds];
      }
    }
  };
  const messages = batch.messages.map((message) => ({
    id: message.id,
    timestamp: message.timestamp,
    body: message.body,
    attempts: message.attempts,
    ack: () => {
      note(message, "ack");
      message.ack();
    },
    retry: (options?: QueueRetryOptions) => {
      note(message, "retry");
      message.retry(options);
    },
  }));
  return {
    queue: batch.queue,
    metadata: batch.metadata,
    messages,
    ackAll: () => {
      for (const message of batch.messages) note(message, "ack");
      batch.ackAll();
    },
    retryAll: (options?: QueueRetryOptions) => {
      for (const message of batch.messages) note(message, "retry");
      batch.retryAll(options);
    },
  } as MessageBatch<unknown>;
}

async function control(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path === "/__bench/control" && request.method === "POST") {
    const body = (await request.json()) as {
      rate?: number;
      down?: boolean;
      capture?: boolean | string[];
      clock_offset_ms?: number | null;
    };
    if (typeof body.rate === "number") plan.rate = body.rate;
    if (typeof body.down === "boolean") plan.down = body.down;
    if (typeof body.capture === "boolean" || Array.isArray(body.capture)) capture = body.capture;
    if (body.clock_offset_ms !== undefined) clockOffsetMs = body.clock_offset_ms;
    return Response.json({ rate: plan.rate, down: plan.down, capture, clock_offset_ms: clockOffsetMs });
  }
  if (path === "/__bench/batches") {
    const taken = batches;
    batches = [];
    return Response.json(taken);
  }
  if (path === "/__bench/ledger") return Response.json(takeLedgers());
  if (path === "/__bench/captured") {
    const taken = captured;
    captured = [];
    return Response.json(taken);
  }
  return new Response("unknown bench route", { status: 404 });
}

export default {
  async fetch(request, env, ctx) {
    const path = new URL(request.url).pathname;
    // `n` D1 round trips of one trivial statement each, one after the other: what a round trip to the
    // local D1 costs workerd, read by the harness from /proc around the request (bench/pipeline.ts).
    if (path === "/__bench/d1-round-trips") {
      const count = Math.min(10_000, Math.max(1, Number(new URL(request.url).searchParams.get("n") ?? "1") || 1));
      for (let trip = 0; trip < count; trip++) await env.DB.batch([env.DB.prepare("SELECT 1 AS one")]);
      return Response.json({ round_trips: count });
    }
    if (path.startsWith("/__bench/")) return control(request);
    if (captures(PRODUCERS.EVENTS))
      return worker.fetch(request, { ...env, EVENTS: capturingQueue(PRODUCERS.EVENTS) }, ctx);
    // Only NovaMed's deliveries are the edge's cost; the harness's admin reads are not.
    if (!path.startsWith("/webhooks/")) return worker.fetch(request, env, ctx);
    const ledger = ledgerOf("edge");
    ledger.invocations += 1;
    const started = Date.now();
    try {
      return await worker.fetch(request, edgeEnv(env, ledger), ctx);
    } finally {
      ledger.wall_ms += Date.now() - started;
    }
  },

  async queue(batch, env, ctx) {
    const counter = { roundTrips: 0 };
    const started = Date.now();
    const record: BatchRecord = {
      queue: batch.queue,
      messages: batch.messages.length,
      acked: 0,
      retried: 0,
      threw: false,
      d1_round_trips: 0,
      duration_ms: 0,
      started_at: started,
      ended_at: 0,
      retried_event_ids: [],
    };
    const ledger = ledgerOf(CONSUMER_STAGE[batch.queue] ?? "events_consumer");
    ledger.invocations += 1;
    try {
      const recorded = recordingBatch(batch, record);
      const offset = clockOffsetMs;
      if (offset !== null && batch.queue === PRODUCERS.DELIVERIES)
        await consumeClinicDeliveries(recorded, instrumentedEnv(env, counter, ledger), {
          now: () => Date.now() + offset,
        });
      else await worker.queue(recorded, instrumentedEnv(env, counter, ledger));
    } catch (error) {
      record.threw = true;
      throw error;
    } finally {
      record.d1_round_trips = counter.roundTrips;
      record.ended_at = Date.now();
      record.duration_ms = record.ended_at - started;
      batches.push(record);
      // Queues: a read per 64 KB chunk per delivery; an ack deletes, a retry (or a throw) delivers again.
      const chunks = batch.messages.reduce((sum, message) => sum + chunksOf(message.body), 0);
      ledger.wall_ms += record.duration_ms;
      ledger.queue_deliveries += batch.messages.length;
      ledger.queue_read_chunks += chunks;
      // A message neither acked nor retried is acked when the handler returns.
      const acked = record.threw ? 0 : batch.messages.length - record.retried;
      ledger.queue_acks += acked;
      ledger.queue_delete_chunks +=
        record.threw || acked === 0 ? 0 : Math.round((chunks * acked) / batch.messages.length);
      ledger.queue_retries += record.threw ? batch.messages.length : record.retried;
    }
    void ctx;
  },

  async scheduled(controller, env) {
    const ledger = ledgerOf("crons");
    ledger.invocations += 1;
    const started = Date.now();
    try {
      await worker.scheduled(controller, instrumentedEnv(env, { roundTrips: 0 }, ledger));
    } finally {
      ledger.wall_ms += Date.now() - started;
    }
  },
} satisfies ExportedHandler<Env>;
