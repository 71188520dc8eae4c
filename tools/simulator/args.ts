import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  type CliEnv,
  insecureUrlProblem,
  isLoopbackUrl,
  isUuid,
  UsageError,
  usageErrorFromParseArgs,
} from "../cli-kit.ts";
import { buildPlan } from "./generator.ts";

/** Flags of `npm run simulate`, merged with the environment, checked, and given defaults. */

export const DEFAULT_TARGET = "http://localhost:8787/webhooks/novamed";
/** The guide's example clinic, which `.dev.vars.example` also lists in NOVAMED_CLINIC_IDS. */
export const DEFAULT_CLINIC_ID = "550e8400-e29b-41d4-a716-446655440000";
/** Start time of a seeded run without --start-time: the morning of the guide's examples. */
export const SEEDED_START_TIME = "2025-01-15T09:00:00.000Z";
export const MAX_COUNT = 100_000;

const OPTIONS = {
  target: { type: "string" },
  "api-key": { type: "string" },
  count: { type: "string" },
  "duplicate-rate": { type: "string" },
  "out-of-order-rate": { type: "string" },
  concurrency: { type: "string" },
  "clinic-id": { type: "string" },
  seed: { type: "string" },
  "start-time": { type: "string" },
  "retry-scale": { type: "string" },
  timeout: { type: "string" },
  "dry-run": { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export interface SimulatorConfig {
  target: string;
  /** Empty for --dry-run without a key. */
  apiKey: string;
  count: number;
  duplicateRate: number;
  outOfOrderRate: number;
  concurrency: number;
  clinicId: string;
  seed: string;
  /** Epoch ms of the first event. */
  startTime: number;
  retryScale: number;
  timeoutMs: number;
  dryRun: boolean;
  json: boolean;
}

export type SimulatorInvocation = { kind: "help" } | { kind: "run"; config: SimulatorConfig; warnings: string[] };

export const API_KEY_FLAG_WARNING =
  "--api-key puts the key in the process list and shell history, visible to other users of this machine; set NOVAMED_WEBHOOK_SECRET instead (against localhost the simulator reads it from .dev.vars)";

/** The repository's `.dev.vars`, where `npm run dev` wrote the local receiver's webhook key. */
const DEV_VARS = fileURLToPath(new URL("../../.dev.vars", import.meta.url));

/** The text of the local `.dev.vars`, or null when there is none. */
export function readLocalDevVars(): string | null {
  try {
    return readFileSync(DEV_VARS, "utf8");
  } catch {
    return null;
  }
}

/** The first key of a `NOVAMED_WEBHOOK_SECRET` value (several during a rotation; the receiver's format). */
function firstKey(secret: string | undefined): string {
  return secret?.split(",")[0]?.trim() ?? "";
}

/** `NOVAMED_WEBHOOK_SECRET` as `.dev.vars` sets it (last assignment wins, as in wrangler). */
function devVarsWebhookSecret(devVars: string | null): string | undefined {
  const lines = devVars?.match(/^\s*NOVAMED_WEBHOOK_SECRET\s*=.*$/gm) ?? [];
  const value = lines
    .at(-1)
    ?.replace(/^\s*NOVAMED_WEBHOOK_SECRET\s*=/, "")
    .trim();
  return value?.replace(/^(["'])(.*)\1$/, "$2");
}

function parseFlags(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: false, strict: true }).values;
  } catch (error) {
    throw usageErrorFromParseArgs(error);
  }
}

/**
 * Parses the arguments after `npm run simulate --`. `now` picks the start time of an unseeded run.
 * @throws {UsageError} for anything the user has to fix.
 */
export function parseSimulatorArgs(
  argv: readonly string[],
  env: CliEnv,
  now: () => number = Date.now,
  readDevVars: () => string | null = readLocalDevVars,
): SimulatorInvocation {
  const values = parseFlags(argv);
  if (values.help) return { kind: "help" };
  const dryRun = values["dry-run"] === true;

  const target = values.target?.trim() || DEFAULT_TARGET;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new UsageError("--target is not a URL (e.g. http://localhost:8787/webhooks/novamed)");
  }
  const insecure = insecureUrlProblem(url, "--target");
  if (insecure) throw new UsageError(insecure);

  // The key comes from the environment, or, for the local receiver, from the .dev.vars that
  // `npm run dev` wrote; --api-key still works, with a warning (it shows in the process list).
  const flagKey = values["api-key"]?.trim() ?? "";
  const warnings = values["api-key"] !== undefined ? [API_KEY_FLAG_WARNING] : [];
  const apiKey =
    flagKey ||
    firstKey(env.NOVAMED_WEBHOOK_SECRET) ||
    (isLoopbackUrl(url) ? firstKey(devVarsWebhookSecret(readDevVars())) : "");
  if (!apiKey && !dryRun) {
    throw new UsageError(
      isLoopbackUrl(url)
        ? "missing API key: set NOVAMED_WEBHOOK_SECRET, or run npm run dev once so .dev.vars holds one"
        : "missing API key: set NOVAMED_WEBHOOK_SECRET to the receiver's key (or pass --api-key)",
    );
  }

  const clinicId = values["clinic-id"]?.trim() || env.NOVAMED_CLINIC_ID?.trim() || DEFAULT_CLINIC_ID;
  if (!isUuid(clinicId)) throw new UsageError("the clinic id (--clinic-id / NOVAMED_CLINIC_ID) must be a UUID");

  const seedGiven = values.seed !== undefined;
  // An unseeded run still has a seed: a random one, printed in the summary so the run can be replayed.
  const seed = values.seed?.trim() ?? String(randomInt(0, 2 ** 32));
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(seed)) {
    throw new UsageError("--seed must be 1-64 letters, digits, dots, dashes or underscores");
  }

  let startTime: number;
  if (values["start-time"] !== undefined) {
    startTime = Date.parse(values["start-time"]);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(values["start-time"]) || Number.isNaN(startTime)) {
      throw new UsageError("--start-time must be an ISO 8601 date-time, e.g. 2025-01-15T09:00:00Z");
    }
  } else {
    // Seeded runs are fully reproducible by default; unseeded ones end "now" (to the second), so no
    // event is dated in the future (the receiver warns about those) and the console shows them as recent.
    startTime = seedGiven ? Date.parse(SEEDED_START_TIME) : Math.floor(now() / 1000) * 1000;
  }

  const config = {
    target: url.href,
    apiKey,
    count: integer(values.count, "--count", 50, 1, MAX_COUNT),
    duplicateRate: rate(values["duplicate-rate"], "--duplicate-rate", false),
    outOfOrderRate: rate(values["out-of-order-rate"], "--out-of-order-rate", true),
    concurrency: integer(values.concurrency, "--concurrency", 4, 1, 256),
    clinicId,
    seed,
    startTime,
    retryScale: number(values["retry-scale"], "--retry-scale", 1, 0, 100),
    timeoutMs: Math.round(number(values.timeout, "--timeout", 5, 0.001, 300) * 1000),
    dryRun,
    json: values.json === true,
  };
  if (values["start-time"] === undefined && !seedGiven) {
    // The timeline does not depend on its start (only on the seed), so one trial plan gives its span.
    config.startTime -= timelineSpan(config);
  }
  return { kind: "run", warnings, config };
}

/** Milliseconds from the first to the last event timestamp of the plan these options build. */
function timelineSpan(options: Parameters<typeof buildPlan>[0]): number {
  const times = buildPlan(options).sends.map((send) => Date.parse(send.envelope.timestamp));
  return times.length === 0 ? 0 : Math.max(...times) - Math.min(...times);
}

function number(raw: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be a number from ${min} to ${max}`);
  }
  return value;
}

function integer(raw: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  const value = number(raw, flag, fallback, min, max);
  if (!Number.isInteger(value)) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}`);
  return value;
}

/** A fraction; re-sends cannot be every delivery (something must be sent first), so that one stays below 1. */
function rate(raw: string | undefined, flag: string, allowOne: boolean): number {
  const value = number(raw, flag, 0, 0, 1);
  if (!allowOne && value >= 1) throw new UsageError(`${flag} must be at least 0 and below 1`);
  return value;
}
