/**
 * The forwarding pass (issue 25): the simulator's event stream through the receiver with one
 * destination (`include_phi` false, `events: ["*"]`) on a local endpoint (bench/forwarding-endpoint.ts)
 * that verifies every signature with `standardwebhooks`, answers in 50–200 ms and refuses 10 % of the
 * tries with a 500. The pass waits until every change of the feed (`GET /admin/changes`) was accepted
 * by the endpoint at least once and reports lost (never accepted: must be 0), delivered more than
 * once (allowed, by `webhook-id`), signature failures (must be 0) and changes/s from the first event
 * sent to the last change delivered.
 *
 * The receiver runs on workerd with its local queues and D1 (the bench entry); Miniflare fires no
 * crons, so the harness fires them as Cloudflare would: `* * * * *` (the fan-out) at every wall-clock
 * minute and `*∕5 * * * *` (the sweep) at every fifth.
 *
 * The 72 h outage sub-pass ({@link runForwardingOutage}) cannot wait out days of backoff, so, as the
 * outage soak (bench/outage.ts) does for the events queue, the `clinic-deliveries` queue and the crons
 * run on a simulated clock: the bench entry captures the delivery jobs the Worker sends and the harness
 * delivers each when its delay has passed, with the forwarding consumer's `now` on the same simulated
 * clock (a hook of the bench entry only), so the backoff, the circuit's probes, the 4-day give-up and
 * `webhook-timestamp` all see simulated time. The endpoint answers 503 for the outage, then recovers.
 */
import { join } from "node:path";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { DEFAULT_CLINIC_ID } from "../tools/simulator/args.ts";
import type { BatchRecord, CapturedMessage } from "./batch-record.ts";
import { type Accounting, account, ENDPOINT_DELAY_MS, type Endpoint, startEndpoint } from "./forwarding-endpoint.ts";
import {
  adminGet,
  finalCount,
  PATIENT_IDS,
  planEndingAt,
  registerPatients,
  type Stats,
  sendStream,
} from "./pipeline.ts";
import { busyShare, cpuDelta, machineCpu, treeCpu, waitForQuiet } from "./proc.ts";
import type { RuntimeServer } from "./runtime.ts";
import { ROOT } from "./servers.ts";
import { deliverSimulatedBatch } from "./simulated-queue.ts";

const DESTINATION_ID = "bench-endpoint";
const DELIVERIES = "clinic-deliveries";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

export interface ForwardingOptions {
  /** Deliveries to the receiver, re-sends included (the pipeline pass's stream). */
  events: number;
  seed: number;
  /** Share of the endpoint's answers that are a 500. */
  failureRate: number;
  drainTimeoutS: number;
  apiKey: string;
  adminToken: string;
  progress: (message: string) => void;
}

/** `latest.json`'s `forwarding` (without the outage sub-pass and the floor ratio, added by run.ts). */
export interface ForwardingResult extends Accounting {
  events: number;
  unique_events: number;
  accepted: number;
  /** The endpoint: delay range, refused share, and what it answered. */
  endpoint: {
    delay_ms: { min: number; max: number };
    failure_rate: number;
    requests: number;
    answered_2xx: number;
    refused_injected: number;
    signature_failures: number;
  };
  signature_failures: number;
  /** First event sent → last change delivered (its first 2xx). */
  seconds: number;
  changes_per_s: number;
  /** First event sent → first change delivered: mostly the wait for the minute's fan-out cron. */
  first_delivery_s: number | null;
  /** First event sent → 99 % of the changes delivered: without the backoff's tail. */
  delivered_99pct_s: number | null;
  /** First change delivered → last: the delivery rate once the fan-out runs. */
  delivery_changes_per_s: number | null;
  drained: boolean;
  crons_fired: Record<string, number>;
  /** `clinic-deliveries` consumer invocations, their mean size and duration, and changes per busy second. */
  batches: number;
  mean_batch_size: number;
  mean_batch_ms: number;
  consumer_deliveries_per_busy_s: number | null;
  /** Delivery rows by status in D1 at the end, and the most tries one row took. */
  rows_by_status: Record<string, number>;
  max_attempts: number;
  destination_state: string | null;
  server_cpu_ms_per_change: number | null;
  machine_busy: number | null;
  machine_busy_before: number | null;
}

/** Creates the pass's destination for `url`; answers its signing secret (`whsec_…`, shown once). */
async function createDestination(server: RuntimeServer, token: string, url: string): Promise<string> {
  const response = await fetch(`${server.url}/admin/destinations/${DESTINATION_ID}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ clinic_id: DEFAULT_CLINIC_ID, url, events: ["*"], include_phi: false, enabled: true }),
  });
  const body = (await response.json()) as { secret?: string };
  if (!response.ok || typeof body.secret !== "string")
    throw new Error(`creating the destination answered ${response.status}`);
  return body.secret;
}

/** Reads the change feed on from `cursor` to its end (100 a page); answers the ids and the new cursor. */
async function readFeed(server: RuntimeServer, token: string, cursor: string | null) {
  const ids: string[] = [];
  for (;;) {
    const query = `/admin/changes?limit=100${cursor === null ? "" : `&after=${encodeURIComponent(cursor)}`}`;
    const { status, body } = await adminGet<{ changes: { id: string }[]; next_cursor: string | null }>(
      server,
      token,
      query,
    );
    if (status !== 200 || !body) throw new Error(`GET /admin/changes answered ${status}`);
    ids.push(...body.changes.map((change) => change.id));
    cursor = body.next_cursor ?? cursor;
    if (body.changes.length < 100) return { ids, cursor };
  }
}

/** The feed read incrementally: every change id so far. */
function feedReader(server: RuntimeServer, token: string) {
  const ids: string[] = [];
  let cursor: string | null = null;
  return {
    ids,
    async update() {
      const page = await readFeed(server, token, cursor);
      ids.push(...page.ids);
      cursor = page.cursor;
      return ids;
    },
  };
}

async function deliveryRows(server: RuntimeServer) {
  const db = await server.mf.getD1Database("DB");
  const rows = (
    await db
      .prepare("SELECT status, COUNT(*) AS n, MAX(attempts) AS most FROM clinic_deliveries GROUP BY status")
      .all<{ status: string; n: number; most: number }>()
  ).results;
  return {
    byStatus: Object.fromEntries(rows.map((row) => [row.status, row.n])),
    maxAttempts: Math.max(0, ...rows.map((row) => row.most)),
  };
}

async function destinationState(server: RuntimeServer, token: string): Promise<string | null> {
  const { body } = await adminGet<{ state?: string; destination?: { state?: string } }>(
    server,
    token,
    `/admin/destinations/${DESTINATION_ID}`,
  );
  return body?.state ?? body?.destination?.state ?? null;
}

/**
 * Counts a cron invocation by expression, and apart those that failed (a job threw: the scheduled
 * handler runs every job and rethrows at the end, so the forwarding jobs ran all the same).
 */
function tally(fired: Record<string, number>, cron: string, outcome: string | undefined): void {
  const key = outcome === "ok" ? cron : `${cron} (failed)`;
  fired[key] = (fired[key] ?? 0) + 1;
}

/**
 * Fires the receiver's crons as Cloudflare's scheduler would, at wall-clock boundaries: the minute's
 * fan-out every minute, the 5-minute sweep every fifth. Answers a stop function and the counts.
 */
function cronDriver(server: RuntimeServer) {
  const fired: Record<string, number> = {};
  let lastMinute = Math.floor(Date.now() / 60_000);
  let running = false;
  const timer = setInterval(async () => {
    const minute = Math.floor(Date.now() / 60_000);
    if (running || minute === lastMinute) return;
    running = true;
    lastMinute = minute;
    try {
      const worker = await server.mf.getWorker();
      const crons = minute % 5 === 0 ? ["* * * * *", "*/5 * * * *"] : ["* * * * *"];
      for (const cron of crons) {
        const result = await worker.scheduled({ cron, scheduledTime: new Date(minute * 60_000) }).catch(() => null);
        tally(fired, cron, result?.outcome);
      }
    } finally {
      running = false;
    }
  }, 250);
  return { fired, stop: () => clearInterval(timer) };
}

/**
 * The stream of the pipeline pass (20 % re-sends, 20 % shuffled lifecycles) under this pass's seed,
 * ending at `endAt`: a change's `occurred_at` is its event's time, and the daily feed retention (30
 * days by `occurred_at`) would purge a stream dated in the past, pending deliveries with it, within
 * the outage's first simulated day.
 */
const streamOf = (label: string, count: number, seed: number, endAt: number) =>
  planEndingAt(
    {
      count,
      duplicateRate: 0.2,
      outOfOrderRate: 0.2,
      seed: `${label}-${seed}`,
      clinicId: DEFAULT_CLINIC_ID,
      startTime: endAt,
      patientIds: PATIENT_IDS,
    },
    endAt,
  );

/** Runs the pass against `server` (the bench entry with its queue consumers). */
export async function runForwarding(server: RuntimeServer, options: ForwardingOptions): Promise<ForwardingResult> {
  const endpoint = await startEndpoint({ seed: options.seed, failureRate: options.failureRate });
  const records: BatchRecord[] = [];
  const collect = async () => {
    const response = await fetch(`${server.url}/__bench/batches`).catch(() => null);
    if (response?.ok)
      records.push(...((await response.json()) as BatchRecord[]).filter((record) => record.queue === DELIVERIES));
  };
  const collector = setInterval(() => void collect(), 1000);
  const crons = cronDriver(server);
  try {
    const patients = await registerPatients(server, options.adminToken);
    endpoint.setSecret(await createDestination(server, options.adminToken, endpoint.url));
    const plan = streamOf("forwarding", options.events, options.seed, Date.now());
    options.progress(
      `forwarding: ${patients} patients, destination on ${endpoint.url} (${ENDPOINT_DELAY_MS.min}–${ENDPOINT_DELAY_MS.max} ms, ${options.failureRate * 100} % refused)`,
    );
    const quiet = await waitForQuiet(30_000);
    const cpuBefore = { server: treeCpu(server.pid), machine: machineCpu() };
    const started = Date.now();
    const accepted = new Set<string>();
    let sent = 0;
    const feed = feedReader(server, options.adminToken);
    let accounting = account([], endpoint.seen);
    const progressTimer = setInterval(() => {
      options.progress(
        `forwarding: ${((Date.now() - started) / 1000).toFixed(0)}s · sent ${sent}/${plan.sends.length} · changes ${accounting.changes} · delivered ${accounting.delivered} · endpoint ${endpoint.figures().requests} requests`,
      );
    }, 5000);
    try {
      await sendStream(server, plan.sends, {
        concurrency: 32,
        apiKey: options.apiKey,
        accepted,
        onSent: () => void sent++,
      });
      // Done when every event is final, no notification is pending (no change is still to come) and
      // the endpoint accepted every change of the feed.
      const deadline = Date.now() + options.drainTimeoutS * 1000;
      let drained = false;
      while (Date.now() < deadline) {
        const stats = (await adminGet<Stats>(server, options.adminToken, "/admin/stats").catch(() => null))?.body;
        const settled =
          stats !== null &&
          stats !== undefined &&
          finalCount(stats) >= accepted.size &&
          (stats.notifications?.by_status?.pending ?? 0) === 0;
        accounting = account(await feed.update(), endpoint.seen);
        if (settled && accounting.changes > 0 && accounting.lost === 0) {
          drained = true;
          break;
        }
        await sleep(1000);
      }
      const cpuAfter = { server: treeCpu(server.pid), machine: machineCpu() };
      accounting = account(await feed.update(), endpoint.seen);
      await collect();
      const firstOks = feed.ids.flatMap((id) => endpoint.seen.get(id)?.firstOkAt ?? []);
      const firstOk = firstOks.length > 0 ? Math.min(...firstOks) : null;
      const lastOk = firstOks.length > 0 ? Math.max(...firstOks) : null;
      const seconds = ((lastOk ?? Date.now()) - started) / 1000;
      const rows = await deliveryRows(server);
      const busyS = records.reduce((sum, record) => sum + record.duration_ms, 0) / 1000;
      const messages = records.reduce((sum, record) => sum + record.messages, 0);
      const serverCpu = cpuDelta(cpuBefore.server, cpuAfter.server).totalMs;
      const busy = busyShare(cpuBefore.machine, cpuAfter.machine);
      const figures = endpoint.figures();
      return {
        events: plan.sends.length,
        unique_events: plan.uniqueEvents,
        accepted: accepted.size,
        ...accounting,
        signature_failures: figures.signature_failures,
        endpoint: {
          delay_ms: { ...ENDPOINT_DELAY_MS },
          failure_rate: options.failureRate,
          requests: figures.requests,
          answered_2xx: figures.answered_2xx,
          refused_injected: figures.refused_injected,
          signature_failures: figures.signature_failures,
        },
        seconds: round(seconds),
        changes_per_s: round(accounting.delivered / Math.max(0.001, seconds), 0),
        first_delivery_s: firstOk === null ? null : round((firstOk - started) / 1000),
        delivered_99pct_s:
          firstOks.length === 0
            ? null
            : round(
                ((firstOks.sort((a, b) => a - b)[Math.ceil(0.99 * firstOks.length) - 1] ?? lastOk!) - started) / 1000,
              ),
        delivery_changes_per_s:
          firstOk === null || lastOk === null || lastOk === firstOk
            ? null
            : round(accounting.delivered / ((lastOk - firstOk) / 1000), 0),
        drained,
        crons_fired: { ...crons.fired },
        batches: records.length,
        mean_batch_size: round(messages / Math.max(1, records.length), 1),
        mean_batch_ms: round((busyS * 1000) / Math.max(1, records.length), 1),
        consumer_deliveries_per_busy_s: busyS > 0 ? round(messages / busyS, 0) : null,
        rows_by_status: rows.byStatus,
        max_attempts: rows.maxAttempts,
        destination_state: await destinationState(server, options.adminToken),
        server_cpu_ms_per_change: serverCpu > 0 ? round(serverCpu / Math.max(1, accounting.changes), 3) : null,
        machine_busy: busy === null ? null : round(busy),
        machine_busy_before: quiet.busy === null ? null : round(quiet.busy),
      };
    } finally {
      clearInterval(progressTimer);
    }
  } finally {
    crons.stop();
    clearInterval(collector);
    await endpoint.stop();
  }
}

/** `latest.json`'s `forwarding.outage`. */
export interface ForwardingOutageResult extends Accounting {
  outage_hours: number;
  events: number;
  accepted: number;
  signature_failures: number;
  /** Tries the endpoint refused with 503 while down (the circuit opens after 10 in a row). */
  tries_while_down: number;
  /** Tries after recovery that the endpoint refused with its 10 % of 500s (none while down). */
  refused_after_recovery: number;
  /** Delivery rows `failed` in D1 (retries exhausted): must be 0. */
  rows_failed: number;
  rows_by_status: Record<string, number>;
  max_attempts: number;
  /** Simulated hours from the endpoint's recovery to the last change's first 2xx. */
  hours_from_recovery_to_all_delivered: number | null;
  simulated_hours: number;
  queue_deliveries: number;
  /** Jobs the consumer asked Queues to retry (D1 failing; none expected here) and jobs dead-lettered. */
  jobs_retried: number;
  jobs_dead_lettered: number;
  crons_fired: Record<string, number>;
  /** Minute crons not fired because nothing had run since the last fan-out (it would read one row). */
  minute_crons_idle: number;
  /** Wall seconds the simulation took. */
  wall_seconds: number;
}

interface Job {
  id: string;
  queue: string;
  body: unknown;
  attempts: number;
  availableAt: number;
}

/** Simulated crons: every minute, every 5 minutes, and the daily one at 03:17 (seconds from the start). */
const SIMULATED_CRONS = [
  { cron: "* * * * *", everyS: 60, offsetS: 0 },
  { cron: "*/5 * * * *", everyS: 300, offsetS: 0 },
  { cron: "17 3 * * *", everyS: 86_400, offsetS: 3 * 3600 + 17 * 60 },
];

/**
 * The 72 h outage sub-pass against `server`: the bench entry with every queue consumer except the
 * forwarding ones (the events and notifications run for real; `clinic-deliveries` is simulated here).
 */
export async function runForwardingOutage(
  server: RuntimeServer,
  options: ForwardingOptions & { outageHours: number },
): Promise<ForwardingOutageResult> {
  const consumers = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml")).workerOptions
    .queueConsumers as Record<string, { maxBatchSize?: number; maxRetries?: number; deadLetterQueue?: string }>;
  const control = (body: object) =>
    fetch(`${server.url}/__bench/control`, { method: "POST", body: JSON.stringify(body) }).then((r) => r.arrayBuffer());
  const start = Date.now();
  const outageS = options.outageHours * 3600;
  let now = 0;
  /** Simulated epoch ms = wall + offset; the endpoint and the Worker's consumer share it. */
  let offsetMs = 0;
  const simulated = () => Date.now() + offsetMs;
  const endpoint: Endpoint = await startEndpoint({
    seed: options.seed,
    failureRate: options.failureRate,
    down: () => simulated() < start + outageS * 1000,
    clock: simulated,
  });
  try {
    await control({ capture: [DELIVERIES, `${DELIVERIES}-dlq`], clock_offset_ms: 0 });
    await registerPatients(server, options.adminToken);
    endpoint.setSecret(await createDestination(server, options.adminToken, endpoint.url));
    const plan = streamOf("forwarding-outage", options.events, options.seed, start);
    const accepted = new Set<string>();
    await sendStream(server, plan.sends, { concurrency: 8, apiKey: options.apiKey, accepted });
    // The events and notifications settle for real (minutes of wall time at most); no fan-out yet.
    const settleBy = Date.now() + options.drainTimeoutS * 1000;
    while (Date.now() < settleBy) {
      const stats = (await adminGet<Stats>(server, options.adminToken, "/admin/stats").catch(() => null))?.body;
      if (stats && finalCount(stats) >= accepted.size && (stats.notifications?.by_status?.pending ?? 0) === 0) break;
      await sleep(500);
    }
    const feed = feedReader(server, options.adminToken);
    options.progress(
      `forwarding outage: ${accepted.size} events final, ${(await feed.update()).length} changes; endpoint down for ${options.outageHours} h (simulated)`,
    );

    const worker = await server.mf.getWorker();
    const pending: Job[] = [];
    let nextId = 0;
    let queueDeliveries = 0;
    let retried = 0;
    let deadLettered = 0;
    const fired: Record<string, number> = {};
    const setClock = async () => {
      offsetMs = start + now * 1000 - Date.now();
      await control({ clock_offset_ms: offsetMs });
    };
    const take = async () => {
      const captured = (await (await fetch(`${server.url}/__bench/captured`)).json()) as CapturedMessage[];
      for (const message of captured)
        pending.push({
          id: `job-${nextId++}`,
          queue: message.queue,
          body: message.body,
          attempts: 1,
          availableAt: now + message.delaySeconds,
        });
    };
    const nextCron = SIMULATED_CRONS.map((cron) => cron.offsetS);
    const limitS = outageS + 7 * 86_400;
    const wallStart = Date.now();
    let recovered = false;
    let reported = 0;
    // The minute's cron only fans out: with no change since the last fan-out it reads one row and does
    // nothing, so it is fired only when something else ran since (a cron, a delivery batch).
    let fanOutDue = true;
    let minuteCronsIdle = 0;
    while (now < limitS) {
      if (now - reported >= 12 * 3600) {
        reported = now;
        options.progress(
          `forwarding outage: ${round(now / 3600, 1)} h simulated in ${Math.round((Date.now() - wallStart) / 1000)} s; ${pending.length} jobs queued, endpoint ${endpoint.figures().requests} requests`,
        );
      }
      if (pending.every((job) => job.availableAt > now)) {
        // Settled once the endpoint is back and D1 holds no delivery still to make.
        if (recovered && (await deliveryRows(server)).byStatus.pending === undefined) break;
        now = Math.max(now, Math.min(...pending.map((job) => job.availableAt), ...nextCron));
      }
      if (!recovered && now >= outageS) {
        recovered = true;
        options.progress(`forwarding outage: endpoint back at ${options.outageHours} h; ${pending.length} jobs queued`);
      }
      const crons = SIMULATED_CRONS.filter((_, index) => nextCron[index]! <= now);
      for (const [index, cron] of SIMULATED_CRONS.entries())
        if (nextCron[index]! <= now) nextCron[index] = nextCron[index]! + cron.everyS;
      const due = pending.some((job) => job.availableAt <= now);
      const toFire = crons.filter((cron) => cron.everyS !== 60 || fanOutDue || due);
      minuteCronsIdle += crons.length - toFire.length;
      if (toFire.length === 0 && !due) continue;
      await setClock();
      for (const cron of toFire) {
        const result = await worker
          .scheduled({ cron: cron.cron, scheduledTime: new Date(start + now * 1000) })
          .catch(() => null);
        tally(fired, cron.cron, result?.outcome);
        fanOutDue = cron.everyS !== 60;
        await take();
      }
      for (const queue of [DELIVERIES, `${DELIVERIES}-dlq`]) {
        const consumer = consumers[queue] ?? {};
        for (;;) {
          const batch = pending
            .filter((job) => job.queue === queue && job.availableAt <= now)
            .slice(0, consumer.maxBatchSize ?? 10);
          if (batch.length === 0) break;
          fanOutDue = true;
          for (const job of batch) pending.splice(pending.indexOf(job), 1);
          queueDeliveries += batch.length;
          const fate = await deliverSimulatedBatch(
            worker,
            queue,
            batch.map((job) => ({ ...job, enqueuedAtMs: start + now * 1000 })),
          );
          await take();
          for (const job of batch) {
            const { retry, delaySeconds } = fate(job.id);
            if (!retry) continue;
            retried += 1;
            const maxRetries = consumer.maxRetries ?? 3;
            if (job.attempts <= maxRetries)
              pending.push({ ...job, attempts: job.attempts + 1, availableAt: now + delaySeconds });
            else if (consumer.deadLetterQueue) {
              deadLettered += 1;
              pending.push({ ...job, queue: consumer.deadLetterQueue, attempts: 1, availableAt: now });
            }
          }
        }
      }
    }
    await control({ capture: false, clock_offset_ms: null });
    const accounting = account(await feed.update(), endpoint.seen);
    const rows = await deliveryRows(server);
    const lastOk = Math.max(...feed.ids.flatMap((id) => endpoint.seen.get(id)?.firstOkAt ?? []));
    const figures = endpoint.figures();
    return {
      outage_hours: options.outageHours,
      events: plan.sends.length,
      accepted: accepted.size,
      ...accounting,
      signature_failures: figures.signature_failures,
      tries_while_down: figures.answered_503_down,
      refused_after_recovery: figures.refused_injected,
      rows_failed: rows.byStatus.failed ?? 0,
      rows_by_status: rows.byStatus,
      max_attempts: rows.maxAttempts,
      hours_from_recovery_to_all_delivered:
        accounting.lost === 0 && Number.isFinite(lastOk)
          ? round((lastOk - (start + outageS * 1000)) / 3_600_000)
          : null,
      simulated_hours: round(now / 3600, 1),
      queue_deliveries: queueDeliveries,
      jobs_retried: retried,
      jobs_dead_lettered: deadLettered,
      crons_fired: fired,
      minute_crons_idle: minuteCronsIdle,
      wall_seconds: Math.round((Date.now() - wallStart) / 1000),
    };
  } finally {
    await endpoint.stop();
  }
}
