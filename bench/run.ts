/**
 * `npm run bench`: the receiver side by side with its baselines, then the pipeline, the fault soak
 * and the outage soak. Every Worker runs on workerd through Miniflare's API (bench/runtime.ts), with
 * no `wrangler dev` proxy in the measured path.
 *
 * 0. Startup: bundle size (raw, gzip) and startup CPU of what `wrangler deploy` would upload.
 * 1. App: the receiver's own code per request, in this process with mocked bindings (bench/app-cost.ts),
 *    against a bare Hono app.
 * 2. ACK path: the same autocannon load against the enqueue floor, the receiver (the production
 *    bundle), the empty Worker and the guide's Express example, one after another on 127.0.0.1.
 * 3. Pipeline: a duplicated, partly out-of-order event stream through the receiver (the bench entry,
 *    bench/worker/) until drained; then D1's bytes per event (bench/storage.ts).
 * 4. Faults: the same with D1 and provider failures injected from outside the Worker (--no-faults skips).
 * 5. Outage: D1 down for longer than the main queue's retry span, on a simulated clock (bench/outage.ts).
 * 6. Forwarding: the stream with one destination on a slow, failing local endpoint until every change
 *    was delivered, then its endpoint down for 72 h of simulated time (bench/forwarding.ts).
 *
 * Progress goes to stderr, the table to stdout, the figures to bench/results/latest.json. Exit code 0
 * whenever the run completed (missed targets are findings); 1 when the harness itself failed, or when
 * the app part failed (after the other parts ran and latest.json was written); 130 on Ctrl-C. Every
 * server started here is stopped on every path out.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type AckResult, measureAck } from "./ack.ts";
import { measureAppCost } from "./app-cost.ts";
import { measureArchive } from "./archive.ts";
import { addLedgers } from "./batch-record.ts";
import { addCounts, type CostResult, computeCost, readIndexes, storageUsdPerMillionEventsMonth } from "./cost.ts";
import { type ForwardingOutageResult, runForwarding, runForwardingOutage } from "./forwarding.ts";
import { type LifetimeRuns, runLifetimeCrons } from "./lifetime.ts";
import { type OutageResult, runOutage } from "./outage.ts";
import { runPipeline } from "./pipeline.ts";
import {
  type FloorResult,
  medianRound,
  type PipelineRound,
  runPipelineFloor,
  vsFloor,
  withoutSenderFigures,
} from "./pipeline-floor.ts";
import { freePort, type ProfileSummary, profiled } from "./profile.ts";
import { PROVIDER_VARS, providerFakes } from "./providers.ts";
import { evaluateTargets, machineDescription, type Results, renderTable } from "./report.ts";
import {
  bundleReceiver,
  bundleWorker,
  disposeAll,
  killRuntimesSync,
  type RuntimeServer,
  startRuntime,
  tempDirectory,
} from "./runtime.ts";
import { killAllSync, ROOT, type Server, startExpress } from "./servers.ts";
import { measureStartup, type StartupResult } from "./startup.ts";
import { findDatabaseFile, measureStorage, type StorageResult } from "./storage.ts";

const HELP = `npm run bench -- [options]

  --quick               short run: 4 s per ACK server, 2,000 + 300 pipeline events, 1 s per app
  --faults <rate>       fault rate of the faults pass (default 0.1)
  --no-faults           skip the faults pass
  --outage-hours <h>    simulated D1 outage of the outage soak (default 96: past both queues' retry spans)
  --outage-events <n>   deliveries of the outage soak (default 300)
  --connections <n>     ACK connections (default 64)
  --duration <s>        ACK measured seconds per server (default 10; quick 4)
  --events <n>          pipeline deliveries, 20 % of them re-sends (default 10000; quick 2000)
  --fault-events <n>    faults-pass deliveries (default 2000; quick 300)
  --drain-timeout <s>   pipeline drain limit (default 180; quick 60)
  --faults-timeout <s>  faults-pass drain limit; retries back off 10 s, 20 s, … (default 450; quick 90)
  --app-duration <s>    app part: measured seconds per app, in-process (default 2; quick 1)
  --forwarding-events <n>  forwarding-pass deliveries to the receiver (default 10000; quick 2000)
  --forwarding-timeout <s> forwarding-pass limit until every change is delivered (default 1800; quick 600)
  --forwarding-outage-hours <h>   the endpoint's simulated outage (default 72)
  --forwarding-outage-events <n>  deliveries of the forwarding outage sub-pass (default 300; quick 100)
  --only <parts>        comma-separated subset of startup,app,ack,pipeline,faults,outage,forwarding
  --seed <n>            event stream seed (default: random, printed)
  --profile             sample the receiver's isolate during the pipeline pass (V8 CPU profile through
                        workerd's inspector): top functions and modules in latest.json's
                        pipeline.profile, the profile in bench/results/pipeline.cpuprofile
  --repeat <n>          the pipeline part's rounds (floor, pipeline, pass without the sender; default 1,
                        at most 9): the round with the median ratio to its floor stands for the run,
                        every round is in pipeline.rounds, and losses count from all of them
  --log-providers       the pipeline pass sends through the log providers instead of the Twilio and
                        Resend fakes: no provider call leaves the Worker (settings.log_providers)
  -h, --help`;

const PARTS = ["startup", "app", "ack", "pipeline", "faults", "outage", "forwarding"];

/** The benchmark's own secrets, given to every receiver it starts. */
const SECRETS = {
  NOVAMED_WEBHOOK_SECRET: "bench-webhook-key-2c7e9a1f4d3b8c05",
  NOVAMED_CLINIC_IDS: "550e8400-e29b-41d4-a716-446655440000",
  ADMIN_TOKEN: "bench-admin-token-0123456789abcdef",
};

/**
 * The log provider for both channels: whatever a developer's .dev.vars holds, every notification of
 * the run is rendered and recorded and nothing leaves the machine.
 */
const LOG_PROVIDERS = { SMS_PROVIDER: "log", EMAIL_PROVIDER: "log" };

const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** `measure`'s result, or null when it failed, said on the progress line ("<what>: not measured: ..."). */
async function measured<T>(what: string, measure: () => T | Promise<T>): Promise<T | null> {
  try {
    return await measure();
  } catch (error) {
    progress(`${what}: not measured: ${messageOf(error)}`);
    return null;
  }
}

function parse() {
  return parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      faults: { type: "string" },
      "no-faults": { type: "boolean", default: false },
      "outage-hours": { type: "string" },
      "outage-events": { type: "string" },
      connections: { type: "string" },
      duration: { type: "string" },
      events: { type: "string" },
      "fault-events": { type: "string" },
      "drain-timeout": { type: "string" },
      "faults-timeout": { type: "string" },
      "app-duration": { type: "string" },
      "forwarding-events": { type: "string" },
      "forwarding-timeout": { type: "string" },
      "forwarding-outage-hours": { type: "string" },
      "forwarding-outage-events": { type: "string" },
      only: { type: "string" },
      seed: { type: "string" },
      profile: { type: "boolean", default: false },
      "log-providers": { type: "boolean", default: false },
      repeat: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}

function options() {
  let values: ReturnType<typeof parse>["values"];
  try {
    ({ values } = parse());
  } catch (error) {
    // An unknown flag or a missing value is the user's mistake, not the harness's: exit 2.
    throw new UsageError(messageOf(error));
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const number = (name: string, raw: string | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) => {
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(value) || value < min || value > max)
      throw new UsageError(`--${name} must be a number in [${min}, ${max}]`);
    return value;
  };
  const quick = values.quick;
  const parts = new Set((values.only ?? PARTS.join(",")).split(",").map((part) => part.trim()));
  for (const part of parts) if (!PARTS.includes(part)) throw new UsageError(`--only: unknown part ${part}`);
  if (values["no-faults"]) parts.delete("faults");
  return {
    quick,
    parts,
    faultRate: number("faults", values.faults, 0.1, 0, 1),
    outageHours: number("outage-hours", values["outage-hours"], 96, 1, 24 * 14),
    outageEvents: number("outage-events", values["outage-events"], 300, 10, 5000),
    connections: number("connections", values.connections, 64, 1, 1024),
    durationS: number("duration", values.duration, quick ? 4 : 10, 1, 120),
    warmupS: quick ? 1 : 2,
    events: number("events", values.events, quick ? 2000 : 10_000, 10, 100_000),
    faultEvents: number("fault-events", values["fault-events"], quick ? 300 : 2000, 10, 100_000),
    drainTimeoutS: number("drain-timeout", values["drain-timeout"], quick ? 60 : 180, 5, 3600),
    faultsTimeoutS: number("faults-timeout", values["faults-timeout"], quick ? 90 : 450, 5, 3600),
    forwardingEvents: number("forwarding-events", values["forwarding-events"], quick ? 2000 : 10_000, 10, 100_000),
    forwardingTimeoutS: number("forwarding-timeout", values["forwarding-timeout"], quick ? 600 : 1800, 5, 7200),
    forwardingOutageHours: number("forwarding-outage-hours", values["forwarding-outage-hours"], 72, 1, 24 * 14),
    forwardingOutageEvents: number(
      "forwarding-outage-events",
      values["forwarding-outage-events"],
      quick ? 100 : 300,
      10,
      5000,
    ),
    appDurationS: number("app-duration", values["app-duration"], quick ? 1 : 2, 0.1, 60),
    seed: number("seed", values.seed, Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1),
    profile: values.profile,
    logProviders: values["log-providers"],
    repeat: number("repeat", values.repeat, 1, 1, 9),
  };
}

class UsageError extends Error {}

/** Starts a server, runs `body` against it, and stops it whatever happens. */
async function withServer<S extends Server, T>(start: () => Promise<S>, body: (server: S) => Promise<T>): Promise<T> {
  const server = await start();
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const settings = options();
  const started = Date.now();
  progress(`machine: ${machineDescription()}; seed ${settings.seed}${settings.quick ? "; quick" : ""}`);
  const scratch = tempDirectory("novamed-bench-");
  try {
    await runParts(settings, scratch.path, started);
  } finally {
    await disposeAll();
    scratch.remove();
  }
}

async function runParts(settings: ReturnType<typeof options>, scratch: string, started: number): Promise<void> {
  const wranglerConfig = join(ROOT, "wrangler.toml");
  const bundles = {
    receiver: bundleReceiver(join(scratch, "receiver")),
    // Not minified under --profile, so the profile names the receiver's functions and modules.
    benchEntry: await bundleWorker(
      join(ROOT, "bench", "worker", "index.ts"),
      join(scratch, "bench-entry"),
      !settings.profile,
    ),
    enqueueFloor: await bundleWorker(join(ROOT, "bench", "enqueue-floor", "index.ts"), join(scratch, "floor")),
    emptyWorker: await bundleWorker(join(ROOT, "bench", "empty-worker", "index.ts"), join(scratch, "empty")),
    pipelineFloor: await bundleWorker(
      join(ROOT, "bench", "pipeline-floor", "index.ts"),
      join(scratch, "pipeline-floor"),
    ),
  };

  let startup: StartupResult | null = null;
  if (settings.parts.has("startup")) {
    progress("startup: wrangler deploy --dry-run, wrangler check startup ×5");
    startup = await measureStartup(join(scratch, "startup"));
    progress(
      `startup: ${startup.bundle_kib} KiB (gzip ${startup.bundle_gzip_kib} KiB), startup CPU ${startup.startup_cpu_ms} ms`,
    );
  }

  // Before any server exists: it takes seconds and wants the cores to itself.
  let app: Results["app"] = { receiver: null, hono_floor: null };
  if (settings.parts.has("app")) {
    progress(`app: src/http/app.ts bundled and called in-process, ${settings.appDurationS} s each after a warm-up`);
    try {
      // V8 keeps optimising the receiver for about a second; slower before that.
      app = await measureAppCost({ warmupMs: 1000, durationMs: settings.appDurationS * 1000 });
      const mine = app.receiver!;
      progress(
        `app: receiver ${mine.ms_per_request} ms/req (CPU ${mine.cpu_ms_per_request}), Hono floor ${app.hono_floor!.ms_per_request} ms/req`,
      );
      if (mine.messages_sent !== mine.requests || mine.log_lines !== mine.requests) {
        progress(
          `app: warning: ${mine.requests} requests, ${mine.messages_sent} messages sent, ${mine.log_lines} log lines`,
        );
      }
    } catch (error) {
      // A broken measurement is not a finding: say so, run the rest, and exit 1 at the end.
      app = { receiver: null, hono_floor: null, error: messageOf(error) };
      progress(`app: FAILED: ${app.error}`);
    }
  }

  const ack: Results["ack"] = { enqueue_floor: null, receiver: null, empty_worker: null, express_reference: null };
  if (settings.parts.has("ack")) {
    // No queue consumers: the ACK part measures the edge; the pipeline part measures the consumer.
    const servers: [keyof Results["ack"], () => Promise<Server>][] = [
      [
        "enqueue_floor",
        () =>
          startRuntime({ name: "enqueue-floor", scriptPath: bundles.enqueueFloor, wranglerConfig, consumers: false }),
      ],
      [
        "receiver",
        () =>
          startRuntime({
            name: "receiver",
            scriptPath: bundles.receiver,
            wranglerConfig,
            vars: { ...SECRETS, ...LOG_PROVIDERS },
            consumers: false,
          }),
      ],
      ["empty_worker", () => startRuntime({ name: "empty-worker", scriptPath: bundles.emptyWorker })],
      ["express_reference", () => startExpress("express-reference", SECRETS.NOVAMED_WEBHOOK_SECRET)],
    ];
    for (const [name, start] of servers) {
      progress(`ACK ${name}: starting`);
      ack[name] = await withServer(start, async (server) => {
        progress(
          `ACK ${name}: ${settings.connections} connections, ${settings.warmupS} s warm-up + ${settings.durationS} s on ${server.url}`,
        );
        const result: AckResult = await measureAck(server, {
          connections: settings.connections,
          durationS: settings.durationS,
          warmupS: settings.warmupS,
          apiKey: SECRETS.NOVAMED_WEBHOOK_SECRET,
          path: "/webhooks/novamed",
        });
        progress(
          `ACK ${name}: ${result.rps} req/s, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, errors ${result.errors}, server CPU ${result.cpu_ms_per_request ?? "n/a"} ms/req`,
        );
        return result;
      });
    }
  }

  /** One pipeline pass on a fresh D1 (kept in `persist` for the storage figures). */
  const pipelinePass = async (
    label: string,
    rate: number,
    events: number,
    drainTimeoutS: number,
    variant: { streamLabel?: string; withoutSender?: boolean } = {},
  ) => {
    const persist = join(scratch, `d1-${label}`);
    const fakes = providerFakes(rate);
    const inspectorPort = settings.profile && rate === 0 && !variant.withoutSender ? await freePort() : undefined;
    let profile: ProfileSummary | null = null;
    const result = await withServer(
      () =>
        startRuntime({
          name: label,
          scriptPath: bundles.benchEntry,
          wranglerConfig,
          vars: { ...SECRETS, ...PROVIDER_VARS, ...(settings.logProviders && rate === 0 ? LOG_PROVIDERS : {}) },
          persist,
          migrate: true,
          outboundService: fakes.outboundService,
          inspectorPort,
          ...(variant.withoutSender ? { withoutConsumers: ["patient-notifications"] } : {}),
        }),
      async (server: RuntimeServer) => {
        await fetch(`${server.url}/__bench/control`, { method: "POST", body: JSON.stringify({ rate }) });
        progress(`${label}: ${events} deliveries (20 % re-sends)${rate > 0 ? `, fault rate ${rate}` : ""}`);
        return runPipeline(server, {
          events,
          duplicateRate: 0.2,
          outOfOrderRate: 0.2,
          concurrency: 32,
          drainTimeoutS,
          apiKey: SECRETS.NOVAMED_WEBHOOK_SECRET,
          adminToken: SECRETS.ADMIN_TOKEN,
          seed: settings.seed,
          label,
          progress,
          providers: fakes.figures,
          ...variant,
          measured:
            inspectorPort === undefined
              ? undefined
              : profiled(inspectorPort, label, bundles.benchEntry, (summary) => (profile = summary)),
        });
      },
    );
    return { result: profile ? { ...result, profile } : result, persist };
  };

  let pipeline: Results["pipeline"] = null;
  let cost: CostResult | null = null;
  if (settings.parts.has("pipeline")) {
    // Each round: the pipeline floor first, on the same local queue and D1 setup, with the same
    // stream; then the pipeline; then the same stream again on a runtime without the sender (what the
    // edge and the events consumer cost alone, so the sender's CPU is the difference of two
    // measurements, not a split by wall time). Every pass of every round gets a fresh D1.
    const rounds: {
      floor: FloorResult;
      result: Awaited<ReturnType<typeof pipelinePass>>["result"];
      persist: string;
      alone: Awaited<ReturnType<typeof pipelinePass>>["result"];
    }[] = [];
    for (let round = 1; round <= settings.repeat; round++) {
      const suffix = settings.repeat === 1 ? "" : `-${round}`;
      const roundFloor: FloorResult = await withServer(
        () =>
          startRuntime({
            name: "pipeline-floor",
            scriptPath: bundles.pipelineFloor,
            wranglerConfig,
            persist: join(scratch, `d1-pipeline-floor${suffix}`),
          }),
        (server: RuntimeServer) =>
          runPipelineFloor(server, {
            events: settings.events,
            seed: settings.seed,
            label: "pipeline",
            concurrency: 32,
            drainTimeoutS: settings.drainTimeoutS,
          }),
      );
      progress(
        `pipeline floor${suffix ? ` (round ${round})` : ""}: ${roundFloor.events_per_s} events/s, ${roundFloor.cpu_ms_per_event} workerd CPU ms/event${roundFloor.drained ? "" : " (not drained)"}`,
      );
      const pass = await pipelinePass(`pipeline${suffix}`, 0, settings.events, settings.drainTimeoutS, {
        streamLabel: "pipeline",
      });
      const { result: roundAlone } = await pipelinePass(
        `pipeline-without-sender${suffix}`,
        0,
        settings.events,
        settings.drainTimeoutS,
        { streamLabel: "pipeline", withoutSender: true },
      );
      rounds.push({ floor: roundFloor, result: pass.result, persist: pass.persist, alone: roundAlone });
    }
    const ratioOf = (round: (typeof rounds)[number]) =>
      vsFloor(round.result.events_per_s, round.floor.drained ? round.floor.events_per_s : null);
    const { floor, result, persist, alone } = medianRound(rounds, ratioOf);
    const sumOfRounds = (value: (round: (typeof rounds)[number]) => number) =>
      rounds.reduce((sum, round) => sum + value(round), 0);
    let storage: StorageResult | null = null;
    let lifetime: LifetimeRuns | null = null;
    const { ledger, log_lines: logLines, ...figures } = result;
    const file = await measured("cost", () => findDatabaseFile(persist));
    if (file) {
      const archive = await measured("archive", () => measureArchive(file, scratch));
      storage = await measured("storage", () => measureStorage(file, scratch, 30, 14, archive));
      // Then (the runs change the file) the daily cron over the same D1 through an event's life.
      lifetime = await measured("lifetime crons", () =>
        withServer(
          () =>
            startRuntime({
              name: "pipeline-lifetime",
              scriptPath: bundles.benchEntry,
              wranglerConfig,
              vars: { ...SECRETS, ...PROVIDER_VARS },
              persist,
              // The pass applied the migrations to this D1.
              migrate: false,
              outboundService: providerFakes(0).outboundService,
            }),
          (server: RuntimeServer) => runLifetimeCrons(server),
        ),
      );
      if (lifetime)
        progress(
          `lifetime crons: the daily cron on days ${lifetime.figures.days.join(", ")} after the newest event (${lifetime.figures.failed_runs} failed); ${lifetime.figures.events_left} of ${lifetime.figures.events_before} events left in D1`,
        );
      const crons = lifetime?.ledger && (ledger?.crons ? addLedgers(ledger.crons, lifetime.ledger) : lifetime.ledger);
      cost = await measured("cost", () =>
        computeCost({
          ledgers: { ...ledger, ...(crons ? { crons } : {}) },
          events: result.accepted,
          cpuMs: result.server_cpu_ms,
          stageCpuMs: lifetime ? { crons: lifetime.figures.cpu_ms } : {},
          indexes: readIndexes(file),
          bytesPerEvent: null,
          smsSent: result.providers.sms_accepted,
          emailsSent: result.providers.email_accepted,
          logLines: addCounts(logLines ?? {}, lifetime?.logLines ?? {}),
        }),
      );
    }
    if (cost && storage)
      cost.storage_usd_per_million_events_month = storageUsdPerMillionEventsMonth(storage.bytes_per_event);
    pipeline = {
      ...figures,
      storage,
      floor,
      lifetime: lifetime?.figures ?? null,
      vs_floor: vsFloor(figures.events_per_s, floor.drained ? floor.events_per_s : null),
      vs_floor_events_final: vsFloor(
        figures.events_final_seconds ? figures.accepted / figures.events_final_seconds : null,
        floor.drained ? floor.events_per_s : null,
      ),
      cpu_ms_per_event_by_stage: cost
        ? Object.fromEntries(Object.entries(cost.by_stage).map(([stage, value]) => [stage, value.cpu_ms_per_event]))
        : null,
      without_sender: withoutSenderFigures(figures, alone, floor),
      // A loss or a double application in any round counts, whichever round stands for the run.
      lost: sumOfRounds((round) => round.result.lost),
      double_applied: sumOfRounds((round) => round.result.double_applied),
      notifications_sent_more_than_once: sumOfRounds((round) => round.result.notifications_sent_more_than_once),
      ...(rounds.length > 1
        ? {
            rounds: rounds.map((round): PipelineRound => {
              const withoutSender = withoutSenderFigures(round.result, round.alone, round.floor);
              return {
                vs_floor: ratioOf(round),
                events_per_s: round.result.events_per_s,
                floor_events_per_s: round.floor.events_per_s,
                server_cpu_ms_per_event: round.result.server_cpu_ms_per_event,
                floor_cpu_ms_per_event: round.floor.cpu_ms_per_event,
                without_sender_vs_floor: withoutSender.vs_floor,
                sender_cpu_ms_per_event: withoutSender.sender_cpu_ms_per_event,
                lost: round.result.lost,
                double_applied: round.result.double_applied,
              };
            }),
          }
        : {}),
    };
    if (rounds.length > 1)
      progress(
        `pipeline rounds: vs floor ${rounds.map((round) => ratioOf(round)).join(", ")}; the median round stands for the run`,
      );
    const { without_sender: withoutSender } = pipeline;
    progress(
      `pipeline without the sender: ${withoutSender.events_per_s} events/s, ${withoutSender.vs_floor}× the floor, ${withoutSender.cpu_ms_per_event} workerd CPU ms/event; the sender ${withoutSender.sender_cpu_ms_per_event} ms/event more`,
    );
    progress(
      `D1 round trips per event: events consumer ${figures.d1_round_trips_per_event.events_consumer}, sender ${figures.d1_round_trips_per_event.sender}; one costs workerd ${figures.d1_round_trip_cpu_ms} ms CPU here`,
    );
    progress(
      `pipeline vs floor: ${pipeline.vs_floor}× (goal ≥ 0.5); ${pipeline.vs_floor_events_final}× until every event was final, before the sender's drain (sender ${figures.sender_jobs_per_s} jobs/s busy)`,
    );
    const tail = figures.sender_tail;
    progress(
      `the sender's tail: every event final at ${figures.events_final_seconds} s, then ${tail.batches} sender batches (${tail.messages} jobs), the last begun at ${tail.last_started_s} s and ended at ${tail.last_ended_s} s; drained at ${figures.seconds} s`,
    );
    if (cost)
      progress(
        `cost: $${cost.usd_per_million_events} per million events; D1 rows written ${cost.d1_rows_written_per_event}/event, read ${cost.d1_rows_read_per_event}/event; queue ops ${cost.queue_operations_per_event}/event`,
      );
    progress(
      `pipeline: ${result.events_per_s} events/s, consumer ${result.consumer_events_per_s}/s, lost ${result.lost}, double_applied ${result.double_applied}, D1 trips/batch ${result.d1_round_trips_per_batch}`,
    );
    if (storage)
      progress(
        `storage: ${storage.bytes_per_event} B/event (${storage.bytes_per_event_without_payloads} without payloads); steady state with the archive: ${JSON.stringify(storage.steady_state.by_volume)}`,
      );
    const shelf = storage?.steady_state.archive?.index_shelf ?? {};
    for (const [perDay, years] of Object.entries(shelf))
      progress(
        `event index in D1 at ${perDay} events a day, end of each year: ${years.d1_gb_by_year.join(" / ")} GB with its shelf in R2 (${years.r2_bytes_per_event} B/event there), ${years.d1_gb_by_year_without_shelf.join(" / ")} GB without`,
      );
  }
  let faults: Results["faults"] = null;
  if (settings.parts.has("faults")) {
    const { result } = await pipelinePass("faults", settings.faultRate, settings.faultEvents, settings.faultsTimeoutS);
    const { ledger: _ledger, log_lines: _logLines, ...figures } = result;
    faults = { rate: settings.faultRate, ...figures };
    progress(
      `faults: lost ${faults.lost}, double_applied ${faults.double_applied}, retried ${faults.retried}, drained ${faults.drained}`,
    );
  }
  let outage: OutageResult | null = null;
  if (settings.parts.has("outage")) {
    progress(`outage: D1 down for ${settings.outageHours} h of simulated time, ${settings.outageEvents} deliveries`);
    outage = await withServer(
      () =>
        startRuntime({
          name: "outage",
          scriptPath: bundles.benchEntry,
          wranglerConfig,
          vars: { ...SECRETS, ...LOG_PROVIDERS },
          consumers: false,
          migrate: true,
        }),
      (server: RuntimeServer) =>
        runOutage(server, {
          events: settings.outageEvents,
          outageHours: settings.outageHours,
          seed: settings.seed,
          apiKey: SECRETS.NOVAMED_WEBHOOK_SECRET,
          adminToken: SECRETS.ADMIN_TOKEN,
          progress,
        }),
    );
    progress(
      `outage: lost ${outage.lost} (${outage.lost_after_replay_of_dead} after replaying dead), double_applied ${outage.double_applied}`,
    );
  }

  let forwarding: Results["forwarding"] = null;
  if (settings.parts.has("forwarding")) {
    const forwardingOptions = {
      seed: settings.seed,
      failureRate: 0.1,
      drainTimeoutS: settings.forwardingTimeoutS,
      apiKey: SECRETS.NOVAMED_WEBHOOK_SECRET,
      adminToken: SECRETS.ADMIN_TOKEN,
      progress,
    };
    progress(`forwarding: ${settings.forwardingEvents} deliveries, one destination on a local endpoint`);
    const main = await withServer(
      () =>
        startRuntime({
          name: "forwarding",
          scriptPath: bundles.benchEntry,
          wranglerConfig,
          vars: { ...SECRETS, ...LOG_PROVIDERS },
          persist: join(scratch, "d1-forwarding"),
          migrate: true,
        }),
      (server: RuntimeServer) => runForwarding(server, { ...forwardingOptions, events: settings.forwardingEvents }),
    );
    progress(
      `forwarding: ${main.changes} changes, ${main.delivered} delivered, lost ${main.lost}, delivered more than once ${main.duplicates_delivered}, signature failures ${main.signature_failures}, ${main.changes_per_s} changes/s end to end`,
    );
    progress(`forwarding outage: endpoint down ${settings.forwardingOutageHours} h (simulated)`);
    const outageResult: ForwardingOutageResult = await withServer(
      () =>
        startRuntime({
          name: "forwarding-outage",
          scriptPath: bundles.benchEntry,
          wranglerConfig,
          vars: { ...SECRETS, ...LOG_PROVIDERS },
          withoutConsumers: ["clinic-deliveries", "clinic-deliveries-dlq"],
          migrate: true,
        }),
      (server: RuntimeServer) =>
        runForwardingOutage(server, {
          ...forwardingOptions,
          events: settings.forwardingOutageEvents,
          outageHours: settings.forwardingOutageHours,
        }),
    );
    progress(
      `forwarding outage: ${outageResult.changes} changes, lost ${outageResult.lost}, rows failed ${outageResult.rows_failed}, all delivered ${outageResult.hours_from_recovery_to_all_delivered} h after recovery`,
    );
    const floor = pipeline?.floor;
    forwarding = {
      ...main,
      vs_pipeline_floor: floor?.drained ? Math.round((main.changes_per_s / floor.events_per_s) * 100) / 100 : null,
      outage: outageResult,
    };
  }

  const partial = {
    machine: machineDescription(),
    date: new Date().toISOString(),
    startup,
    app,
    ack,
    pipeline,
    cost,
    faults,
    outage,
    forwarding,
    settings: {
      quick: settings.quick,
      connections: settings.connections,
      duration_s: settings.durationS,
      warmup_s: settings.warmupS,
      pipeline_deliveries: settings.events,
      fault_deliveries: settings.faultEvents,
      outage_hours: settings.outageHours,
      outage_deliveries: settings.outageEvents,
      forwarding_deliveries: settings.forwardingEvents,
      forwarding_outage_hours: settings.forwardingOutageHours,
      forwarding_outage_deliveries: settings.forwardingOutageEvents,
      duplicate_rate: 0.2,
      out_of_order_rate: 0.2,
      pipeline_sender_concurrency: 32,
      app_duration_s: settings.appDurationS,
      seed: settings.seed,
      ...(settings.logProviders ? { log_providers: true } : {}),
      ...(settings.repeat > 1 ? { pipeline_rounds: settings.repeat } : {}),
      node: process.version,
      run_seconds: Math.round((Date.now() - started) / 1000),
    },
  };
  const results: Results = { ...partial, targets: evaluateTargets(partial) };
  const directory = join(ROOT, "bench", "results");
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, "latest.json"), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${renderTable(results)}\n`);
  progress(`wrote bench/results/latest.json in ${results.settings.run_seconds} s`);
  if (app.error) process.exitCode = 1;
}

// Whatever way the harness ends, no server it started outlives it.
process.on("exit", () => {
  killAllSync();
  killRuntimesSync();
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    progress(`${signal}: stopping every server started here`);
    killAllSync();
    killRuntimesSync();
    process.exit(130);
  });
}

try {
  await main();
  process.exit(process.exitCode ?? 0);
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`bench: ${error.message}\n\n${HELP}\n`);
    killAllSync();
    process.exit(2);
  }
  process.stderr.write(
    `bench: the harness failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  killAllSync();
  process.exit(1);
}
