/**
 * `npm run bench`: the receiver side by side with its baselines, then the pipeline and the fault soak.
 *
 * 0. App: the receiver's own code per request, in this process with mocked bindings (bench/app-cost.ts),
 *    against a bare Hono app: what the ACK figures cost apart from the local runtime. Seconds.
 * 1. ACK path: the same autocannon load against the empty Worker (floor), this receiver (real local
 *    queue) and the guide's Express example, one after another on 127.0.0.1.
 * 2. Pipeline: a duplicated, partly out-of-order event stream through a fresh receiver until drained.
 * 3. Faults: the same with FAULT_INJECTION_RATE (skipped with --no-faults).
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
import { type PipelineResult, runPipeline } from "./pipeline.ts";
import { evaluateTargets, machineDescription, type Results, renderTable } from "./report.ts";
import { killAllSync, ROOT, type Server, startEmptyWorker, startExpress, startReceiver } from "./servers.ts";

const HELP = `npm run bench -- [options]

  --quick               short run (~2-3 min): 4 s per ACK server, 2,000 + 300 pipeline events, 1 s per app
  --faults <rate>       fault rate of the faults pass (default 0.1)
  --no-faults           skip the faults pass
  --connections <n>     ACK connections (default 64)
  --duration <s>        ACK measured seconds per server (default 10; quick 4)
  --events <n>          pipeline deliveries, 20 % of them re-sends (default 10000; quick 2000)
  --fault-events <n>    faults-pass deliveries (default 2000; quick 300)
  --drain-timeout <s>   pipeline drain limit (default 180; quick 60)
  --faults-timeout <s>  faults-pass drain limit; retries back off 10 s, 20 s, … (default 450; quick 90)
  --app-duration <s>    app part: measured seconds per app, in-process (default 2; quick 1)
  --only <parts>        comma-separated subset of app,ack,pipeline,faults
  --seed <n>            event stream seed (default: random, printed)
  -h, --help`;

/** The benchmark's own secrets, passed to wrangler dev as --var (they override a .dev.vars). */
const SECRETS = {
  NOVAMED_WEBHOOK_SECRET: "bench-key",
  NOVAMED_CLINIC_IDS: "550e8400-e29b-41d4-a716-446655440000",
  ADMIN_TOKEN: "bench-admin",
};

/**
 * The log provider for both channels: whatever a developer's .dev.vars holds, every notification of
 * the run is rendered and recorded and nothing leaves the machine.
 */
const LOG_PROVIDERS = { SMS_PROVIDER: "log", EMAIL_PROVIDER: "log" };

const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);

function parse() {
  return parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      faults: { type: "string" },
      "no-faults": { type: "boolean", default: false },
      connections: { type: "string" },
      duration: { type: "string" },
      events: { type: "string" },
      "fault-events": { type: "string" },
      "drain-timeout": { type: "string" },
      "faults-timeout": { type: "string" },
      "app-duration": { type: "string" },
      only: { type: "string" },
      seed: { type: "string" },
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
    throw new UsageError(error instanceof Error ? error.message : String(error));
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
  const parts = new Set((values.only ?? "app,ack,pipeline,faults").split(",").map((part) => part.trim()));
  for (const part of parts)
    if (!["app", "ack", "pipeline", "faults"].includes(part)) throw new UsageError(`--only: unknown part ${part}`);
  if (values["no-faults"]) parts.delete("faults");
  return {
    quick,
    parts,
    faultRate: number("faults", values.faults, 0.1, 0, 1),
    connections: number("connections", values.connections, 64, 1, 1024),
    durationS: number("duration", values.duration, quick ? 4 : 10, 1, 120),
    warmupS: quick ? 1 : 2,
    events: number("events", values.events, quick ? 2000 : 10_000, 10, 100_000),
    faultEvents: number("fault-events", values["fault-events"], quick ? 300 : 2000, 10, 100_000),
    drainTimeoutS: number("drain-timeout", values["drain-timeout"], quick ? 60 : 180, 5, 3600),
    faultsTimeoutS: number("faults-timeout", values["faults-timeout"], quick ? 90 : 450, 5, 3600),
    appDurationS: number("app-duration", values["app-duration"], quick ? 1 : 2, 0.1, 60),
    seed: number("seed", values.seed, Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1),
  };
}

class UsageError extends Error {}

/** Starts a server, runs `body` against it, and stops it whatever happens. */
async function withServer<T>(start: () => Promise<Server>, body: (server: Server) => Promise<T>): Promise<T> {
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
  const ack: Results["ack"] = { receiver: null, empty_worker: null, express_reference: null };

  // First, and before any server exists: it takes seconds and wants the cores to itself.
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
      // One enqueue and one request log line per request, or the receiver did not do its whole job.
      if (mine.messages_sent !== mine.requests || mine.log_lines !== mine.requests) {
        progress(
          `app: warning: ${mine.requests} requests, ${mine.messages_sent} messages sent, ${mine.log_lines} log lines`,
        );
      }
    } catch (error) {
      // A broken measurement is not a finding: say so, run the rest, and exit 1 at the end.
      app = { receiver: null, hono_floor: null, error: error instanceof Error ? error.message : String(error) };
      progress(`app: FAILED: ${app.error}`);
    }
  }

  if (settings.parts.has("ack")) {
    const servers: [keyof Results["ack"], () => Promise<Server>][] = [
      ["empty_worker", () => startEmptyWorker("empty-worker")],
      ["receiver", () => startReceiver("receiver-ack", { ...SECRETS, ...LOG_PROVIDERS })],
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

  const pipelinePass = (label: string, rate: number, events: number, drainTimeoutS: number): Promise<PipelineResult> =>
    withServer(
      () => startReceiver(`receiver-${label}`, { ...SECRETS, ...LOG_PROVIDERS }, rate),
      (server) => {
        progress(
          `${label}: ${events} deliveries (20 % re-sends)${rate > 0 ? `, FAULT_INJECTION_RATE=${rate}` : ""}, drain limit ${drainTimeoutS} s`,
        );
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
        });
      },
    );

  let pipeline: PipelineResult | null = null;
  if (settings.parts.has("pipeline")) {
    pipeline = await pipelinePass("pipeline", 0, settings.events, settings.drainTimeoutS);
    progress(
      `pipeline: ${pipeline.events_per_s} events/s, lost ${pipeline.lost}, double_applied ${pipeline.double_applied}, D1 trips/batch ${pipeline.d1_round_trips_per_batch}`,
    );
  }
  let faults: Results["faults"] = null;
  if (settings.parts.has("faults")) {
    const result = await pipelinePass("faults", settings.faultRate, settings.faultEvents, settings.faultsTimeoutS);
    faults = { rate: settings.faultRate, ...result };
    progress(
      `faults: lost ${faults.lost}, double_applied ${faults.double_applied}, retried ${faults.retried}, drained ${faults.drained}`,
    );
  }

  const partial = {
    machine: machineDescription(),
    date: new Date().toISOString(),
    app,
    ack,
    pipeline,
    faults,
    settings: {
      quick: settings.quick,
      connections: settings.connections,
      duration_s: settings.durationS,
      warmup_s: settings.warmupS,
      pipeline_deliveries: settings.events,
      fault_deliveries: settings.faultEvents,
      duplicate_rate: 0.2,
      out_of_order_rate: 0.2,
      pipeline_sender_concurrency: 32,
      app_duration_s: settings.appDurationS,
      seed: settings.seed,
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
process.on("exit", killAllSync);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    progress(`${signal}: stopping every server started here`);
    killAllSync();
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
