/**
 * The outage soak (`--outage`): D1 fails for longer than the main queue's whole retry span, then
 * recovers. Wall time cannot wait out hours of retries, so the queues are simulated here on their own
 * clock: the receiver's real handlers (the bench entry on workerd) get every delivery through
 * Miniflare's `queue()` with the message's `attempts`, and the delays they ask for (`retry
 * ({delaySeconds})`, `send({delaySeconds})`) move the simulated clock, not the wall clock. The
 * simulation follows wrangler.toml's consumers (batch size, max_retries, dead-letter queue) and
 * Cloudflare's retention (a message older than the queue's retention period is gone), and fires the
 * crons at their simulated times. What the Worker sends to its queues is captured by the bench entry
 * and delivered here. Outcomes are read from D1 and the admin API after recovery.
 *
 * The Worker's own `Date.now()` is the wall clock: only the crons and the queues see simulated time.
 */
import { join } from "node:path";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { DEFAULT_CLINIC_ID, SEEDED_START_TIME } from "../tools/simulator/args.ts";
import { buildPlan } from "../tools/simulator/generator.ts";
import type { CapturedMessage } from "./batch-record.ts";
import type { RuntimeServer } from "./runtime.ts";
import { ROOT } from "./servers.ts";
import { deliverSimulatedBatch } from "./simulated-queue.ts";

/**
 * Deliveries near the edge's 64 KiB cap added to the stream: at this size a chunk of 100 is 6 MB, so
 * every re-send (re-spool, sweep, replay) must cut its chunks by bytes to pass Queues' 256 KB limit,
 * which the bench entry enforces on what it captures.
 */
const LARGE_EVENTS = 30;
const LARGE_EVENT_BYTES = 65_000;

/** Cloudflare Queues' default message retention (4 days); a message older than this is dropped. */
const RETENTION_S = 4 * 86_400;
const CRONS = [
  { cron: "*/5 * * * *", everyS: 300, offsetS: 0 },
  { cron: "17 3 * * *", everyS: 86_400, offsetS: 3 * 3600 + 17 * 60 },
];

/** `latest.json`'s `outage`. */
export interface OutageResult {
  events: number;
  unique_events: number;
  /** Of the accepted events, those whose body was near the 64 KiB cap, and how many of them were lost. */
  large_events: number;
  large_lost: number;
  outage_hours: number;
  /** Longest time (simulated) a main-queue message spent from first delivery to leaving the queue. */
  main_queue_retry_span_hours: number;
  simulated_hours: number;
  deliveries: number;
  /** Messages moved to a dead-letter queue, and messages dropped (retries or retention exhausted). */
  dead_lettered: number;
  /** Copies the dead-letter consumer sent back to its own queue (from a message's 14th delivery on). */
  respooled: number;
  dropped: Record<string, number>;
  /** Accepted events with no final status after recovery (a `dead` row waits for a manual replay). */
  lost: number;
  /** Of those, events D1 has no row for at all. */
  lost_without_a_row: number;
  dead_after_recovery: number;
  /** `lost` again after an operator's bulk replay of `dead` events (POST /admin/events/replay). */
  lost_after_replay_of_dead: number;
  double_applied: number;
  final_status: Record<string, number>;
}

interface SimMessage {
  queue: string;
  id: string;
  body: unknown;
  attempts: number;
  availableAt: number;
  enqueuedAt: number;
  firstDeliveryAt: number | null;
}

interface Consumer {
  maxBatchSize: number;
  maxRetries: number;
  deadLetterQueue?: string;
}

const FINAL = new Set(["processed", "ignored", "invalid"]);

/** Runs the soak against `server` (the bench entry, started without queue consumers). */
export async function runOutage(
  server: RuntimeServer,
  options: {
    events: number;
    outageHours: number;
    seed: number;
    apiKey: string;
    adminToken: string;
    progress: (m: string) => void;
  },
): Promise<OutageResult> {
  const consumers = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml")).workerOptions
    .queueConsumers as Record<string, Consumer>;
  const control = (body: object) =>
    fetch(`${server.url}/__bench/control`, { method: "POST", body: JSON.stringify(body) }).then((r) => r.arrayBuffer());
  const worker = await server.mf.getWorker();
  const start = Date.now();
  const outageS = options.outageHours * 3600;
  let now = 0;
  let nextId = 0;
  let deliveries = 0;
  let deadLettered = 0;
  let respooled = 0;
  let mainSpan = 0;
  const dropped: Record<string, number> = {};
  const pending: SimMessage[] = [];
  const take = async () => {
    const captured = (await (await fetch(`${server.url}/__bench/captured`)).json()) as CapturedMessage[];
    for (const message of captured) {
      // Only the dead-letter consumer's re-spool sends to novamed-events-dlq.
      if (message.queue === "novamed-events-dlq") respooled += 1;
      pending.push({
        queue: message.queue,
        id: `sim-${nextId++}`,
        body: message.body,
        attempts: 1,
        availableAt: now + message.delaySeconds,
        enqueuedAt: now,
        firstDeliveryAt: null,
      });
    }
  };

  // The edge accepts every delivery while D1 is down (it does no D1 work); its sends are captured.
  await control({ capture: true, down: true, rate: 0 });
  const plan = buildPlan({
    count: options.events,
    duplicateRate: 0.2,
    outOfOrderRate: 0.2,
    seed: `outage-${options.seed}`,
    clinicId: DEFAULT_CLINIC_ID,
    startTime: Date.parse(SEEDED_START_TIME),
  });
  const accepted = new Set<string>();
  const large = new Set<string>();
  const sends = [...plan.sends.map((delivery) => ({ body: delivery.body, eventId: delivery.envelope.event_id }))];
  for (const [index, delivery] of plan.sends.slice(0, LARGE_EVENTS).entries()) {
    const envelope = { ...delivery.envelope, event_id: `${delivery.envelope.event_id}-large-${index}` };
    const unpadded = JSON.stringify({ ...envelope, data: { ...envelope.data, note: "" } });
    const note = "n".repeat(LARGE_EVENT_BYTES - unpadded.length);
    sends.push({ body: JSON.stringify({ ...envelope, data: { ...envelope.data, note } }), eventId: envelope.event_id });
    large.add(envelope.event_id);
  }
  for (const delivery of sends) {
    const response = await fetch(`${server.url}/webhooks/novamed`, {
      method: "POST",
      headers: { "x-api-key": options.apiKey, "content-type": "application/json" },
      body: delivery.body,
    });
    await response.arrayBuffer();
    if (response.status === 200) accepted.add(delivery.eventId);
  }
  await take();
  options.progress(`outage: ${accepted.size} events accepted with D1 down for ${options.outageHours} h (simulated)`);

  const leave = (message: SimMessage, why: "acked" | "retries" | "retention") => {
    pending.splice(pending.indexOf(message), 1);
    if (message.queue === "novamed-events" && message.firstDeliveryAt !== null)
      mainSpan = Math.max(mainSpan, now - message.firstDeliveryAt);
    if (why === "acked") return;
    const dlq = consumers[message.queue]?.deadLetterQueue;
    if (why === "retries" && dlq) {
      deadLettered += 1;
      pending.push({
        ...message,
        queue: dlq,
        id: `sim-${nextId++}`,
        attempts: 1,
        availableAt: now,
        enqueuedAt: now,
        firstDeliveryAt: null,
      });
    } else dropped[`${message.queue} (${why})`] = (dropped[`${message.queue} (${why})`] ?? 0) + 1;
  };

  const nextCron = CRONS.map((cron) => cron.offsetS % cron.everyS);
  let recovered = false;
  // Until recovered and every queue is empty (scheduled SMS may wait hours: bounded at 7 days).
  while ((!recovered || pending.length > 0) && now < outageS + 7 * 86_400) {
    const due = pending.filter((message) => message.availableAt <= now);
    if (due.length === 0) {
      const next = Math.min(
        ...pending.map((message) => message.availableAt),
        ...nextCron,
        recovered ? Number.POSITIVE_INFINITY : outageS,
      );
      now = Math.max(now, next);
    }
    if (!recovered && now >= outageS) {
      recovered = true;
      await control({ down: false });
      options.progress(`outage: D1 back at ${options.outageHours} h; ${pending.length} messages queued`);
    }
    for (const [index, cron] of CRONS.entries()) {
      if (nextCron[index]! > now) continue;
      await worker.scheduled({ cron: cron.cron, scheduledTime: new Date(start + now * 1000) }).catch(() => null);
      nextCron[index] = nextCron[index]! + cron.everyS;
      await take();
    }
    for (const message of pending.filter((message) => now - message.enqueuedAt > RETENTION_S))
      leave(message, "retention");
    for (const queue of new Set(pending.filter((message) => message.availableAt <= now).map((m) => m.queue))) {
      const consumer = consumers[queue] ?? { maxBatchSize: 100, maxRetries: 3 };
      const batch = pending
        .filter((message) => message.queue === queue && message.availableAt <= now)
        .slice(0, consumer.maxBatchSize);
      for (const message of batch) message.firstDeliveryAt ??= now;
      deliveries += batch.length;
      const fate = await deliverSimulatedBatch(
        worker,
        queue,
        batch.map((message) => ({ ...message, enqueuedAtMs: start + message.enqueuedAt * 1000 })),
      );
      await take();
      for (const message of batch) {
        const { retry, delaySeconds } = fate(message.id);
        if (!retry) {
          leave(message, "acked");
          continue;
        }
        if (message.attempts > consumer.maxRetries) {
          leave(message, "retries");
          continue;
        }
        message.attempts += 1;
        message.availableAt = now + delaySeconds;
      }
    }
  }
  await control({ capture: false });

  const outcome = async () => {
    const db = await server.mf.getD1Database("DB");
    const rows = (await db.prepare("SELECT event_id, status FROM events").all<{ event_id: string; status: string }>())
      .results;
    const status = new Map(rows.map((row) => [row.event_id, row.status]));
    const ids = [...accepted];
    return {
      lost: ids.filter((id) => !FINAL.has(status.get(id) ?? "")).length,
      largeLost: ids.filter((id) => large.has(id) && !FINAL.has(status.get(id) ?? "")).length,
      withoutRow: ids.filter((id) => !status.has(id)).length,
      dead: ids.filter((id) => status.get(id) === "dead").length,
      byStatus: Object.fromEntries(
        [...new Set(rows.map((row) => row.status))].map((value) => [
          value,
          rows.filter((row) => row.status === value).length,
        ]),
      ),
    };
  };
  const before = await outcome();
  // What an operator does after an outage: replay every dead event, then let the queue deliver them.
  let afterReplay = before.lost;
  if (before.dead > 0) {
    await control({ capture: true });
    const response = await fetch(`${server.url}/admin/events/replay`, {
      method: "POST",
      headers: { authorization: `Bearer ${options.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ status: "dead", limit: 1000 }),
    });
    await response.arrayBuffer();
    await take();
    for (const queue of ["novamed-events"]) {
      const batch = pending.filter((message) => message.queue === queue);
      if (batch.length > 0)
        await worker.queue(
          queue,
          batch.map((message) => ({ id: message.id, timestamp: new Date(), body: message.body, attempts: 1 })),
        );
    }
    await control({ capture: false });
    afterReplay = (await outcome()).lost;
  }
  const stats = (await (
    await fetch(`${server.url}/admin/stats`, { headers: { authorization: `Bearer ${options.adminToken}` } })
  ).json()) as { events: { applied_more_than_once: number } };
  const finalStatus = (await outcome()).byStatus;
  return {
    events: sends.length,
    unique_events: accepted.size,
    large_events: [...large].filter((id) => accepted.has(id)).length,
    large_lost: before.largeLost,
    outage_hours: options.outageHours,
    main_queue_retry_span_hours: Math.round((mainSpan / 3600) * 100) / 100,
    simulated_hours: Math.round((now / 3600) * 10) / 10,
    deliveries,
    dead_lettered: deadLettered,
    respooled,
    dropped,
    lost: before.lost,
    lost_without_a_row: before.withoutRow,
    dead_after_recovery: before.dead,
    lost_after_replay_of_dead: afterReplay,
    double_applied: stats.events.applied_more_than_once,
    final_status: finalStatus,
  };
}
