/**
 * The pipeline pass: pushes the simulator's event stream (tools/simulator/generator.ts: all twelve
 * event types in consistent lifecycles, with re-sends and shuffled lifecycles) through the real
 * receiver (edge → local queue → consumer → D1), waits until every accepted event reached a final
 * status, and checks the outcome through the admin API: nothing accepted is lost, nothing is applied
 * twice, every out-of-order lifecycle ends in the right state, and (with faults) every retried event
 * was processed. The bench entry (bench/worker/index.ts) records each queue batch from its bindings:
 * messages, acks, retries and D1 round trips; the provider fakes (bench/providers.ts) count what each
 * patient was sent. Nothing is read from log text.
 */

import { DEFAULT_CLINIC_ID, SEEDED_START_TIME } from "../tools/simulator/args.ts";
import { buildPlan, type EntityKind, lifecycleOutcomes } from "../tools/simulator/generator.ts";
import type { BatchRecord, Stage, StageLedger } from "./batch-record.ts";
import { logLinesBetween } from "./cost.ts";
import { busyShare, cpuDelta, machineCpu, treeCpu, waitForQuiet } from "./proc.ts";
import type { ProviderFigures } from "./providers.ts";
import type { RuntimeServer } from "./runtime.ts";
import type { Server } from "./servers.ts";

export interface PipelineOptions {
  /** Deliveries in total, re-sends included. */
  events: number;
  duplicateRate: number;
  outOfOrderRate: number;
  /** Requests in flight at once while sending. */
  concurrency: number;
  drainTimeoutS: number;
  apiKey: string;
  adminToken: string;
  seed: number;
  label: string;
  progress: (message: string) => void;
  /** What the provider fakes saw, given the provider id each of D1's notification rows records. */
  providers: (recorded: readonly string[]) => ProviderFigures;
  /** Called when the measured span starts (first send) and ends (drained): `--profile` samples it. */
  measured?: { start(): Promise<void>; end(): Promise<void> };
  /** The stream's name when it is not `label` (the pass without the sender replays the pipeline's). */
  streamLabel?: string;
  /**
   * The runtime runs no sender (patient-notifications has no consumer): drained once every event is
   * final, send jobs left queued. The CPU it measures is the edge's and the events consumer's alone.
   */
  withoutSender?: boolean;
}

/** What latest.json's `pipeline` (and `faults`) carry; the issue's fields first. */
export interface PipelineResult {
  events: number;
  duplicates: number;
  seconds: number;
  events_per_s: number;
  lost: number;
  double_applied: number;
  d1_round_trips_per_batch: number;
  d1_round_trips_max: number;
  retried: number;
  events_applied_more_than_once: number;
  /** Messages the providers accepted more than once (a patient messaged twice). */
  notifications_sent_more_than_once: number;
  providers: ProviderFigures;
  unique_events: number;
  accepted: number;
  /** Deliveries that got no 200 even after the sender's own retries. */
  send_failures: number;
  send_seconds: number;
  drained: boolean;
  batches: number;
  mean_batch_size: number;
  mean_batch_ms: number;
  final_status: Record<string, number>;
  conflicts: number;
  notifications: unknown;
  out_of_order_lifecycles: number;
  /** Orders, medication requests and refills whose final status was checked (every shuffled one). */
  lifecycles_checked: number;
  lifecycles_wrong_state: number;
  /**
   * The first lifecycles found in the wrong state, with what the admin API answered (its HTTP status,
   * and the entity's status when it answered 200), so a miss can be told apart from a failed read.
   */
  lifecycles_wrong: { kind: string; id: string; expected: string; http_status: number; status: string | null }[];
  retried_events_logged: number;
  retried_events_not_processed: number;
  lost_checked_per_event: boolean;
  /** CPU ms of the receiver's process tree (edge + consumer + D1) per unique event, send to drain. */
  server_cpu_ms_per_event: number | null;
  /** Share of both cores busy from first send to drain, 0..1. */
  machine_busy: number | null;
  /** Share of both cores busy just before the first send (receiver idle): other work on the machine. */
  machine_busy_before: number | null;
  /** Seconds until every accepted event was final (notifications may still be in flight). */
  events_final_seconds: number | null;
  /**
   * The sender's work after the last event was final: its batches that began then, their messages,
   * and when the last one began and ended, in seconds from the start (workerd's clock, which moves
   * on I/O). The ratio to the floor counts until the drain, so this tail is part of it.
   */
  sender_tail: { batches: number; messages: number; last_started_s: number | null; last_ended_s: number | null };
  /** Synthetic patients registered so notifications are sent (log provider); 0 = none. */
  patients_registered: number;
  notifications_pending_at_end: number;
  /**
   * Runs of the 5-minute cron the harness fired, since wrangler dev fires no crons (the notification
   * sweep, and with it every job of that cron, the archive's catch-up included), and how many of them
   * ended in an error (under the faults pass, an injected D1 fault fails a job and so the run).
   */
  sweeps_triggered: number;
  sweeps_failed: number;
  /** Consumer alone: main-queue messages / summed batch durations (events applied per second while busy). */
  consumer_events_per_s: number;
  /** Sender alone: notification jobs / summed notification batch durations. */
  sender_jobs_per_s: number;
  /**
   * D1 round trips per accepted event, by consumer (the bench entry counts each invocation's), and
   * what one costs workerd here: the CPU of 300 trivial round trips (`SELECT 1`) over 300, measured
   * before the stream. Each is a subrequest through Miniflare's D1; their count, not their rows, is
   * most of what the sender adds to the floor locally (bench/README.md, Cost).
   */
  d1_round_trips_per_event: { events_consumer: number; sender: number };
  d1_round_trip_cpu_ms: number | null;
  notification_batches: number;
  /** workerd CPU ms from first send to drain (the figure per event is `server_cpu_ms_per_event`). */
  server_cpu_ms: number | null;
  /** The bench entry's cost ledger by stage (bench/worker/ledger.ts); the harness prices it and drops it. */
  ledger?: Partial<Record<Stage, StageLedger>>;
  /**
   * The Worker's log lines from the first send to the drain, by what they say (bench/cost.ts
   * `logLineKey`), without the harness's own admin reads; priced with the ledger, then dropped.
   */
  log_lines?: Record<string, number>;
}

export interface Stats {
  events: { total: number; by_status: Record<string, number>; conflicts: number; applied_more_than_once: number };
  notifications?: { by_status?: Record<string, number> } & Record<string, unknown>;
}

/**
 * An IANA zone where it is early afternoon now, so no SMS of the run falls into quiet hours
 * (08:00–21:00 local) and waits for hours: the drain would never end.
 */
export function middayTimeZone(now = new Date()): string {
  const zones = [
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Brisbane",
    "Pacific/Noumea",
    "Pacific/Auckland",
  ];
  const hour = (zone: string) =>
    Number(new Intl.DateTimeFormat("en-US", { timeZone: zone, hour: "numeric", hourCycle: "h23" }).format(now));
  return zones.reduce((best, zone) => (Math.abs(hour(zone) - 14) < Math.abs(hour(best) - 14) ? zone : best));
}

/** The stream's patients: registered before the run, so its events produce notifications. */
export const PATIENT_IDS = Array.from({ length: 100 }, (_, index) => `pat_bench_${index}`);

/**
 * The simulator's plan for `options` with its timeline ending at `endAt` (as the simulator does
 * without a seed): the timeline depends on the seed only, so one trial plan gives its span.
 */
export function planEndingAt(options: Parameters<typeof buildPlan>[0], endAt: number): ReturnType<typeof buildPlan> {
  const times = buildPlan({ ...options, startTime: endAt }).sends.map((send) => Date.parse(send.envelope.timestamp));
  return buildPlan({ ...options, startTime: endAt - (Math.max(...times) - Math.min(...times)) });
}

/** Where the admin API shows each kind of entity. */
const ENTITY_ROUTES: Record<EntityKind, string> = {
  order: "/admin/orders",
  medication_request: "/admin/medication-requests",
  refill: "/admin/refills",
};

/**
 * Registers the stream's synthetic patients (fictional 555-01xx numbers, example.com addresses,
 * opted in) so shipped/delivered events produce notifications that go through the sender to the
 * log provider. Returns how many were stored; 0 when the receiver has no patient API yet.
 */
export async function registerPatients(server: Server, token: string): Promise<number> {
  const timezone = middayTimeZone();
  let stored = 0;
  const indexes = PATIENT_IDS.map((_, index) => index);
  await pool(indexes, 8, Date.now() + 60_000, async (index) => {
    const response = await fetch(`${server.url}/admin/patients/${PATIENT_IDS[index]}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        phone: `+1415555${String(100 + (index % 100)).padStart(4, "0")}`,
        email: `bench-${index}@example.com`,
        timezone,
        sms_opt_in: true,
        email_opt_in: true,
      }),
      signal: AbortSignal.timeout(15_000),
    }).catch(() => null);
    await response?.arrayBuffer();
    if (response?.ok) stored += 1;
  });
  return stored;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const FINAL = ["processed", "ignored", "invalid"];

export async function adminGet<T>(
  server: Server,
  token: string,
  path: string,
): Promise<{ status: number; body: T | null }> {
  const response = await fetch(server.url + path, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, body: response.ok ? (JSON.parse(text) as T) : null };
}

/** Runs `task` over `items` with at most `limit` in flight; stops starting new ones after `deadline`. */
export async function pool<T>(
  items: T[],
  limit: number,
  deadline: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length && Date.now() < deadline) await task(items[next++]!);
    }),
  );
}

/**
 * The duplicate measure of the notifications part of /admin/stats, when that part exists: every
 * numeric field whose name says duplicate / more than once / double. 0 when there is none.
 */
function notificationDuplicates(notifications: Record<string, unknown> | undefined): number {
  if (!notifications) return 0;
  return Object.entries(notifications)
    .filter(([key, value]) => typeof value === "number" && /more_than_once|duplicate|double|twice|repeat/i.test(key))
    .reduce((sum, [, value]) => sum + (value as number), 0);
}

/**
 * The statuses of events and notifications, counted straight from D1 (the shape of /admin/stats's
 * `by_status` parts, without the rest), for the drain check and the progress line.
 */
export async function countStatuses(db: Awaited<ReturnType<RuntimeServer["mf"]["getD1Database"]>>): Promise<Stats> {
  const [events, notifications] = await db.batch<{ status: string; n: number }>([
    db.prepare("SELECT status, COUNT(*) AS n FROM events GROUP BY status"),
    db.prepare("SELECT status, COUNT(*) AS n FROM notifications GROUP BY status"),
  ]);
  const byStatus = (rows: { status: string; n: number }[]) =>
    Object.fromEntries(rows.map((row) => [row.status, row.n]));
  const eventCounts = byStatus(events?.results ?? []);
  return {
    events: {
      total: Object.values(eventCounts).reduce((sum, n) => sum + n, 0),
      by_status: eventCounts,
      conflicts: 0,
      applied_more_than_once: 0,
    },
    notifications: { by_status: byStatus(notifications?.results ?? []) },
  };
}

const sumOf = <T>(list: readonly T[], value: (item: T) => number) => list.reduce((sum, item) => sum + value(item), 0);

/** workerd CPU ms of one trivial D1 round trip (300 after a warm-up of 20); null when /proc has none. */
async function measureRoundTrip(server: RuntimeServer, trips = 300): Promise<number | null> {
  const run = async (count: number) => {
    const response = await fetch(`${server.url}/__bench/d1-round-trips?n=${count}`, {
      signal: AbortSignal.timeout(60_000),
    });
    await response.arrayBuffer();
    return response.ok;
  };
  if (!(await run(20).catch(() => false))) return null;
  const before = treeCpu(server.pid);
  if (!(await run(trips).catch(() => false))) return null;
  const cpu = cpuDelta(before, treeCpu(server.pid)).totalMs;
  return cpu > 0 ? round(cpu / trips, 3) : null;
}

export const finalCount = (stats: Stats | null) =>
  FINAL.reduce((sum, status) => sum + (stats?.events.by_status[status] ?? 0), 0);
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Sends `sends` to the receiver's webhook route like NovaMed does: anything but a 200 is sent again
 * (here after 250 ms, at most 4 attempts). Adds each accepted event id to `accepted`; answers how
 * many deliveries got no 200 at all.
 */
export async function sendStream(
  server: Server,
  sends: readonly { body: string; envelope: { event_id: string } }[],
  options: { concurrency: number; apiKey: string; accepted: Set<string>; onSent?: () => void },
): Promise<number> {
  let failures = 0;
  await pool([...sends], options.concurrency, Number.POSITIVE_INFINITY, async (delivery) => {
    for (let attempt = 1; attempt <= 4; attempt++) {
      try {
        const response = await fetch(`${server.url}/webhooks/novamed`, {
          method: "POST",
          headers: { "x-api-key": options.apiKey, "content-type": "application/json" },
          body: delivery.body,
          signal: AbortSignal.timeout(10_000),
        });
        await response.arrayBuffer();
        if (response.status === 200) {
          options.accepted.add(delivery.envelope.event_id);
          break;
        }
      } catch {
        // no answer: retry like NovaMed would
      }
      if (attempt === 4) failures += 1;
      else await sleep(250);
    }
    options.onSent?.();
  });
  return failures;
}

/** Sends the stream, waits for the drain (bounded), verifies, and returns the figures. */
export async function runPipeline(server: RuntimeServer, options: PipelineOptions): Promise<PipelineResult> {
  // The label keeps the pipeline and faults passes of one run (same seed) apart: their ids differ.
  const plan = buildPlan({
    count: options.events,
    duplicateRate: options.duplicateRate,
    outOfOrderRate: options.outOfOrderRate,
    seed: `${options.streamLabel ?? options.label}-${options.seed}`,
    clinicId: DEFAULT_CLINIC_ID,
    startTime: Date.parse(SEEDED_START_TIME),
    patientIds: PATIENT_IDS,
  });

  // Every queue batch the bench entry recorded (it keeps them until asked).
  const records: BatchRecord[] = [];
  const collect = async () => {
    const response = await fetch(`${server.url}/__bench/batches`, { signal: AbortSignal.timeout(15_000) }).catch(
      () => null,
    );
    if (response?.ok) records.push(...((await response.json()) as BatchRecord[]));
  };
  const mainBatches = () => records.filter((record) => record.queue === "novamed-events");
  const collector = setInterval(() => void collect(), 1000);

  const accepted = new Set<string>();
  let sent = 0;
  let sendFailures = 0;
  let sending = true;
  const patients = await registerPatients(server, options.adminToken);
  options.progress(`${options.label}: ${patients} patients registered (notifications through the provider fakes)`);
  const roundTripCpuMs = await measureRoundTrip(server);
  const quiet = await waitForQuiet(30_000);
  await options.measured?.start();
  const cpuBefore = { server: treeCpu(server.pid), machine: machineCpu() };
  const tallyBefore = server.logTally();
  const started = performance.now();
  const startedEpoch = Date.now();
  const stats = async () => (await adminGet<Stats>(server, options.adminToken, "/admin/stats")).body;
  // While measured, progress and the drain check read D1 directly, as the floor's drain check does:
  // /admin/stats through the Worker (its auth, its counts) would put the harness's own polling on the
  // isolate the pipeline runs on. /admin/stats gives the figures reported after the drain.
  const database = await server.mf.getD1Database("DB");
  const progressTimer = setInterval(async () => {
    const current = await countStatuses(database).catch(() => null);
    const elapsed = ((performance.now() - started) / 1000).toFixed(0);
    options.progress(
      `${options.label}: ${elapsed}s · sent ${sent}/${plan.sends.length} · final ${finalCount(current)}/${sending ? "…" : accepted.size}` +
        ` · batches ${mainBatches().length} · retried ${mainBatches().reduce((sum, batch) => sum + batch.retried, 0)}` +
        ` · notifications ${JSON.stringify(current?.notifications?.by_status ?? {})}`,
    );
  }, 2000);

  try {
    sendFailures = await sendStream(server, plan.sends, {
      concurrency: options.concurrency,
      apiKey: options.apiKey,
      accepted,
      onSent: () => void sent++,
    });
    sending = false;
    const sendSeconds = (performance.now() - started) / 1000;

    // Drained when every accepted event has a final status and no notification is still pending
    // (scheduled ones wait for quiet hours to end and do not count); polled every 100 ms as the
    // floor's drain is, bounded.
    const deadline = Date.now() + options.drainTimeoutS * 1000;
    let last: Stats | null = null;
    let drainedAt: number | null = null;
    let eventsFinalAt: number | null = null;
    let lastSweep = 0;
    let sweeps = 0;
    let sweepsFailed = 0;
    let cpuAfter: typeof cpuBefore | null = null;
    let tallyAfter: Record<string, number> | null = null;
    while (Date.now() < deadline) {
      last = await countStatuses(database).catch(() => last);
      const eventsFinal = last !== null && finalCount(last) >= accepted.size;
      if (eventsFinal) eventsFinalAt ??= performance.now();
      // Outbox rows whose send job was never enqueued wait for the sweep cron (every 5 min in
      // production, for rows untouched 5 min). wrangler dev fires no crons, so do what production's
      // scheduler would: once the events are final, trigger the sweep every 60 s while rows wait.
      const pending = last?.notifications?.by_status?.pending ?? 0;
      if (
        eventsFinal &&
        pending > 0 &&
        performance.now() - eventsFinalAt! > 30_000 &&
        performance.now() - lastSweep > 60_000
      ) {
        lastSweep = performance.now();
        const worker = await server.mf.getWorker();
        const result = await worker.scheduled({ cron: "*/5 * * * *", scheduledTime: new Date() }).catch(() => null);
        sweeps += 1;
        if (result?.outcome !== "ok") sweepsFailed += 1;
      }
      if (eventsFinal && (options.withoutSender || (last?.notifications?.by_status?.pending ?? 0) === 0)) {
        drainedAt = performance.now();
        cpuAfter = { server: treeCpu(server.pid), machine: machineCpu() };
        tallyAfter = server.logTally();
        break;
      }
      await sleep(100);
    }
    const seconds = ((drainedAt ?? performance.now()) - started) / 1000;
    cpuAfter ??= { server: treeCpu(server.pid), machine: machineCpu() };
    tallyAfter ??= server.logTally();
    await options.measured?.end();
    const serverCpu = cpuDelta(cpuBefore.server, cpuAfter.server).totalMs;
    const busy = busyShare(cpuBefore.machine, cpuAfter.machine);
    await collect();
    last = (await stats().catch(() => last)) ?? last;

    // lost: accepted but not in a final status. The counts decide when they add up; otherwise (or
    // when a random sample disagrees) every accepted event is looked up on its own.
    const ids = [...accepted];
    let lost = Math.max(0, accepted.size - finalCount(last));
    const notFinal = async (id: string) => {
      const { status, body } = await adminGet<{ status: string }>(
        server,
        options.adminToken,
        `/admin/events/${encodeURIComponent(id)}`,
      ).catch(() => ({ status: 0, body: null }));
      return status !== 200 || !FINAL.includes(body?.status ?? "");
    };
    const sample = ids.filter((_, index) => index % Math.max(1, Math.floor(ids.length / 200)) === 0);
    let sampleMisses = 0;
    await pool(sample, 8, Date.now() + 60_000, async (id) => void ((await notFinal(id)) && sampleMisses++));
    const perEvent = lost > 0 || sampleMisses > 0 || (last?.events.total ?? 0) !== accepted.size;
    if (perEvent) {
      options.progress(
        `${options.label}: counts disagree (final ${finalCount(last)}, accepted ${accepted.size}); checking every event`,
      );
      let misses = 0;
      await pool(ids, 8, Date.now() + 180_000, async (id) => void ((await notFinal(id)) && misses++));
      lost = misses;
    }

    // Every out-of-order lifecycle (and a sample of the others) must end in its last event's status.
    const toCheck = lifecycleOutcomes(plan).filter((lifecycle, index) => lifecycle.outOfOrder || index % 20 === 0);
    let wrongState = 0;
    const wrong: PipelineResult["lifecycles_wrong"] = [];
    await pool(toCheck, 8, Date.now() + 60_000, async (lifecycle) => {
      const { status, body } = await adminGet<{ status: string }>(
        server,
        options.adminToken,
        `${ENTITY_ROUTES[lifecycle.kind]}/${lifecycle.id}`,
      ).catch(() => ({ status: 0, body: null }));
      if (body?.status === lifecycle.finalStatus) return;
      wrongState += 1;
      const found = { http_status: status, status: body?.status ?? null };
      if (wrong.length < 20)
        wrong.push({ kind: lifecycle.kind, id: lifecycle.id, expected: lifecycle.finalStatus, ...found });
      options.progress(
        `${options.label}: ${lifecycle.kind} ${lifecycle.id} should be ${lifecycle.finalStatus}; the admin API answered ${status}${found.status ? ` (${found.status})` : ""}`,
      );
    });

    // Every event the consumer asked to retry must have been processed in the end.
    const retriedIds = new Set(mainBatches().flatMap((batch) => batch.retried_event_ids));
    let retriedNotProcessed = 0;
    await pool(
      [...retriedIds],
      8,
      Date.now() + 60_000,
      async (id) => void ((await notFinal(id)) && retriedNotProcessed++),
    );

    const batches = mainBatches();
    const ledgerResponse = await fetch(`${server.url}/__bench/ledger`, { signal: AbortSignal.timeout(15_000) });
    const ledger = (await ledgerResponse.json()) as Partial<Record<Stage, StageLedger>>;
    const db = await server.mf.getD1Database("DB");
    const recorded = await db
      .prepare("SELECT provider_message_id FROM notifications WHERE provider_message_id IS NOT NULL")
      .raw<[string]>();
    const providers = options.providers(recorded.map(([id]) => id));
    const notificationsSentTwice = providers.sent_more_than_once;
    const roundTrips = batches.map((batch) => batch.d1_round_trips);
    const messages = batches.reduce((sum, batch) => sum + batch.messages, 0);
    const busySeconds = (list: BatchRecord[]) =>
      Math.max(0.001, list.reduce((sum, batch) => sum + batch.duration_ms, 0) / 1000);
    const senderBatches = records.filter((record) => record.queue === "patient-notifications");
    // Batch records carry workerd's epoch ms; the harness's instants map onto it from the start.
    const eventsFinalEpoch = eventsFinalAt === null ? null : startedEpoch + (eventsFinalAt - started);
    const tailBatches = senderBatches.filter(
      (batch) => eventsFinalEpoch !== null && batch.started_at >= eventsFinalEpoch,
    );
    const lastOfTail = (at: (batch: BatchRecord) => number) =>
      tailBatches.length === 0 ? null : round((Math.max(...tailBatches.map(at)) - startedEpoch) / 1000);
    return {
      events: plan.sends.length,
      duplicates: plan.duplicates,
      seconds: round(seconds),
      events_per_s: round(accepted.size / seconds, 0),
      lost,
      double_applied:
        (last?.events.applied_more_than_once ?? 0) +
        Math.max(notificationDuplicates(last?.notifications), notificationsSentTwice),
      events_applied_more_than_once: last?.events.applied_more_than_once ?? 0,
      notifications_sent_more_than_once: notificationsSentTwice,
      providers,
      d1_round_trips_per_batch: round(
        roundTrips.reduce((sum, value) => sum + value, 0) / Math.max(1, roundTrips.length),
      ),
      d1_round_trips_max: Math.max(0, ...roundTrips),
      retried: batches.reduce((sum, batch) => sum + batch.retried + (batch.threw ? batch.messages : 0), 0),
      unique_events: plan.uniqueEvents,
      accepted: accepted.size,
      send_failures: sendFailures,
      send_seconds: round(sendSeconds),
      drained: drainedAt !== null,
      batches: batches.length,
      mean_batch_size: round(messages / Math.max(1, batches.length), 1),
      mean_batch_ms: round(batches.reduce((sum, batch) => sum + batch.duration_ms, 0) / Math.max(1, batches.length), 1),
      final_status: last?.events.by_status ?? {},
      conflicts: last?.events.conflicts ?? 0,
      notifications: last?.notifications ?? null,
      out_of_order_lifecycles: plan.shuffledLifecycles,
      lifecycles_checked: toCheck.length,
      lifecycles_wrong_state: wrongState,
      lifecycles_wrong: wrong,
      retried_events_logged: retriedIds.size,
      notification_batches: senderBatches.length,
      retried_events_not_processed: retriedNotProcessed,
      lost_checked_per_event: perEvent,
      events_final_seconds: eventsFinalAt === null ? null : round((eventsFinalAt - started) / 1000),
      sender_tail: {
        batches: tailBatches.length,
        messages: sumOf(tailBatches, (batch) => batch.messages),
        last_started_s: lastOfTail((batch) => batch.started_at),
        last_ended_s: lastOfTail((batch) => batch.ended_at),
      },
      patients_registered: patients,
      notifications_pending_at_end: last?.notifications?.by_status?.pending ?? 0,
      sweeps_triggered: sweeps,
      sweeps_failed: sweepsFailed,
      consumer_events_per_s: round(messages / busySeconds(batches), 0),
      sender_jobs_per_s: round(
        senderBatches.reduce((sum, batch) => sum + batch.messages, 0) / busySeconds(senderBatches),
        0,
      ),
      d1_round_trips_per_event: {
        events_consumer: round(sumOf(batches, (batch) => batch.d1_round_trips) / Math.max(1, accepted.size), 3),
        sender: round(sumOf(senderBatches, (batch) => batch.d1_round_trips) / Math.max(1, accepted.size), 3),
      },
      d1_round_trip_cpu_ms: roundTripCpuMs,
      server_cpu_ms: serverCpu > 0 ? round(serverCpu, 0) : null,
      ledger,
      log_lines: logLinesBetween(tallyBefore, tallyAfter),
      server_cpu_ms_per_event: serverCpu > 0 ? round(serverCpu / Math.max(1, accepted.size), 3) : null,
      machine_busy: busy === null ? null : round(busy),
      machine_busy_before: quiet.busy === null ? null : round(quiet.busy),
    };
  } finally {
    clearInterval(progressTimer);
    clearInterval(collector);
  }
}
