/**
 * `npm run simulate -- --target <url> [flags]` (the key from NOVAMED_WEBHOOK_SECRET or, against
 * localhost, .dev.vars): a NovaMed sandbox that sends
 * realistic event streams to a receiver. See `--help` or docs/tools.md.
 */
import {
  type CliEnv,
  type CliOutput,
  EXIT_USAGE,
  internalErrorLine,
  runAsEntryPoint,
  UsageError,
  usageErrorLine,
} from "../cli-kit.ts";
import { parseSimulatorArgs, type SimulatorConfig } from "./args.ts";
import { buildPlan } from "./generator.ts";
import { HELP } from "./help.ts";
import { formatSummary, progressLine, summarize } from "./report.ts";
import { type AttemptRecord, type AttemptResult, createStats, sendPlan } from "./sender.ts";

/** Where output goes and how time passes; tests inject all of it, the entry point uses the real ones. */
export interface SimulatorIo extends CliOutput {
  fetch?: typeof fetch;
  /** Waits between retries. */
  sleep?: (ms: number) => Promise<void>;
  /** Monotonic ms, for latencies and the progress line. */
  now?: () => number;
  /** Wall clock in epoch ms, for the start time of an unseeded run. */
  wallClock?: () => number;
  /** How often the progress line is printed; 0 turns it off. Default 1000. */
  progressIntervalMs?: number;
  /** The local `.dev.vars` text (null when absent); defaults to the repository's file. */
  readDevVars?: () => string | null;
}

export const EXIT_OK = 0;
export const EXIT_GAVE_UP = 1;

/**
 * Runs the simulator and resolves with its exit code: 0 when every delivery got a 200 (or for
 * --dry-run), 1 when any was given up or the run failed, 2 for usage errors. Never throws.
 */
export async function main(argv: readonly string[], env: CliEnv, io: SimulatorIo): Promise<number> {
  let config: SimulatorConfig;
  try {
    const invocation = parseSimulatorArgs(argv, env, io.wallClock, io.readDevVars);
    if (invocation.kind === "help") {
      io.stdout(HELP.trimEnd());
      return EXIT_OK;
    }
    config = invocation.config;
    for (const warning of invocation.warnings) io.stderr(`simulate: warning: ${warning}`);
  } catch (error) {
    if (!(error instanceof UsageError)) return internalError(error, io);
    io.stderr(usageErrorLine("simulate", error));
    return EXIT_USAGE;
  }
  try {
    return await run(config, io);
  } catch (error) {
    return internalError(error, io);
  }
}

async function run(config: SimulatorConfig, io: SimulatorIo): Promise<number> {
  const plan = buildPlan({ ...config });
  if (config.dryRun) {
    for (const send of plan.sends) io.stdout(send.body);
    return EXIT_OK;
  }

  const now = io.now ?? (() => performance.now());
  const stats = createStats(plan.sends.length);
  const began = now();
  const intervalMs = io.progressIntervalMs ?? 1000;
  const progress =
    intervalMs > 0 ? setInterval(() => io.stderr(progressLine(stats, now() - began)), intervalMs) : undefined;
  const hinted = new Set<string>();
  const onAttempt = (record: AttemptRecord) => {
    if (record.result === 200 || hinted.has(String(record.result))) return;
    hinted.add(String(record.result));
    io.stderr(`simulate: ${hint(record.result, config)}`);
  };

  try {
    await sendPlan(
      plan.sends,
      {
        target: config.target,
        apiKey: config.apiKey,
        timeoutMs: config.timeoutMs,
        concurrency: config.concurrency,
        retryScale: config.retryScale,
        fetch: io.fetch,
        sleep: io.sleep,
        now,
        onAttempt,
      },
      stats,
    );
  } finally {
    if (progress) clearInterval(progress);
  }

  const summary = summarize(stats, {
    target: config.target,
    seed: config.seed,
    startTime: new Date(config.startTime).toISOString(),
    uniqueEvents: plan.uniqueEvents,
    shuffledLifecycles: plan.shuffledLifecycles,
  });
  io.stdout(config.json ? JSON.stringify(summary) : formatSummary(summary));
  return stats.givenUp === 0 ? EXIT_OK : EXIT_GAVE_UP;
}

/** Printed once per kind of failure, so a misconfiguration is obvious long before the last retry. */
function hint(result: AttemptResult, config: SimulatorConfig): string {
  const retrying = "NovaMed would retry it, and so does the simulator (Ctrl-C to stop)";
  switch (result) {
    case 401:
      return `the receiver answered 401: the key sent does not match its NOVAMED_WEBHOOK_SECRET; ${retrying}`;
    case 403:
      return `the receiver answered 403: clinic ${config.clinicId} is not in its NOVAMED_CLINIC_IDS (set --clinic-id); ${retrying}`;
    case 404:
      return `the receiver answered 404: check that --target ends in /webhooks/novamed; ${retrying}`;
    case "network_error":
      return `cannot connect to ${config.target}: is the receiver running (npm run dev)? ${retrying}`;
    case "timeout":
      return `no answer within ${config.timeoutMs / 1000} s (NovaMed counts that as a failure); ${retrying}`;
    default:
      return `the receiver answered ${result} instead of 200; ${retrying}`;
  }
}

function internalError(error: unknown, io: SimulatorIo): number {
  io.stderr(internalErrorLine("simulate", error));
  return EXIT_GAVE_UP;
}

if (import.meta.main) await runAsEntryPoint(main);
