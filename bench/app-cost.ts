/**
 * The `app` part: what the receiver's own code costs per request, without any runtime around it.
 * `src/http/app.ts` is bundled with esbuild (as wrangler would, for workerd) and its `app.fetch` is
 * called in this process, one request after another, with mocked bindings; a bare Hono app with one
 * route is measured the same way as the in-process floor. Set against the ACK part's server CPU per
 * request, it tells the receiver's code apart from the local runtime (dev proxy, log relay,
 * emulated queue) that wraps it under `wrangler dev`.
 */
import { timingSafeEqual } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { Hono } from "hono";
import { ackBody } from "./ack.ts";
import { busyShare, machineCpu, waitForQuiet } from "./proc.ts";
import { ROOT } from "./servers.ts";

/** One app's figures, as written to latest.json (`app.receiver`, `app.hono_floor`). */
export interface AppFigures {
  requests: number;
  /** Wall time per request, sequential, after the warm-up. */
  ms_per_request: number;
  /** This process's CPU time per request (all its threads, so GC helpers count too). */
  cpu_ms_per_request: number;
  /** Share of both cores busy with other processes while measuring (a colleague's tests skew it). */
  machine_busy_other: number | null;
}

/** The receiver's figures plus what its mocks saw. */
export interface ReceiverAppFigures extends AppFigures {
  /** Receiver CPU ms/request over the floor's (the goal's ratio; wall time varies more under load). */
  x_floor: number;
  /** Messages the mocked EVENTS.send got during the measured run (one per request expected). */
  messages_sent: number;
  /** Console lines swallowed during the measured run (the request log line: one per request). */
  log_lines: number;
}

/** `latest.json`'s `app`. */
export interface AppCostResult {
  receiver: ReceiverAppFigures;
  hono_floor: AppFigures;
}

type FetchApp = { fetch(request: Request, env: unknown, ctx: unknown): Response | Promise<Response> };

const URL_ = "http://127.0.0.1/webhooks/novamed";
const round = (value: number, digits = 4) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Bundles src/http/app.ts into a temp dir and imports it; the bundle is removed once loaded. */
async function loadReceiver(): Promise<FetchApp> {
  const directory = mkdtempSync(join(tmpdir(), "novamed-app-cost-"));
  try {
    const outfile = join(directory, "app.mjs");
    // wrangler's own resolution for workerd, so the bundle holds the same code the Worker runs.
    await build({
      entryPoints: [join(ROOT, "src", "http", "app.ts")],
      bundle: true,
      format: "esm",
      platform: "neutral",
      conditions: ["workerd", "worker", "browser"],
      mainFields: ["browser", "module", "main"],
      target: "es2024",
      outfile,
      logLevel: "silent",
    });
    return ((await import(pathToFileURL(outfile).href)) as { app: FetchApp }).app;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/**
 * `crypto.subtle.timingSafeEqual` is a Workers-only extension of Web Crypto that the API-key check
 * uses (on two SHA-256 digests); Node lacks it. Installed for the run as Node's constant-time byte
 * comparison, native like Workers' own; returns the function that removes it again.
 */
function polyfillTimingSafeEqual(): () => void {
  const subtle = crypto.subtle as unknown as Record<string, unknown>;
  if (typeof subtle.timingSafeEqual === "function") return () => {};
  const bytes = (value: ArrayBuffer | ArrayBufferView) =>
    ArrayBuffer.isView(value)
      ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
      : new Uint8Array(value);
  subtle.timingSafeEqual = (a: ArrayBuffer | ArrayBufferView, b: ArrayBuffer | ArrayBufferView) =>
    timingSafeEqual(bytes(a), bytes(b));
  return () => void delete subtle.timingSafeEqual;
}

/** Replaces console output with a line counter (the receiver logs one JSON line per request). */
function swallowConsole(): { lines: () => number; restore: () => void } {
  const methods = ["log", "info", "warn", "error", "debug"] as const;
  const saved = methods.map((name) => console[name]);
  let lines = 0;
  for (const name of methods) console[name] = () => void lines++;
  const restore = () => {
    for (const [index, name] of methods.entries()) console[name] = saved[index]!;
  };
  return { lines: () => lines, restore };
}

/**
 * Sends `app` the same POST for `warmupMs`, then for `durationMs`, sequentially; every answer must be
 * 200. `onMeasure` runs when the warm-up ends, so counters can be reset.
 */
async function drive(
  app: FetchApp,
  env: unknown,
  options: { warmupMs: number; durationMs: number; onMeasure?: () => void },
): Promise<AppFigures> {
  const template = ackBody();
  const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} };
  let id = 0;
  const once = async () => {
    const body = template.replace("[<id>]", `app_${id++}`);
    const headers = {
      "x-api-key": "bench-webhook-key-2c7e9a1f4d3b8c05",
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
    };
    const response = await app.fetch(new Request(URL_, { method: "POST", headers, body }), env, ctx);
    // Read the body too: a server would have to serialise it.
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`app answered ${response.status}, not 200`);
  };
  // Time is read every 100 requests only, so the clock does not weigh on the floor's figure.
  const runFor = async (ms: number) => {
    const end = performance.now() + ms;
    let count = 0;
    while (performance.now() < end) for (let i = 0; i < 100; i++, count++) await once();
    return count;
  };
  await runFor(options.warmupMs);
  options.onMeasure?.();
  const [cpuBefore, machineBefore] = [process.cpuUsage(), machineCpu()];
  const started = performance.now();
  const requests = await runFor(options.durationMs);
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const busy = busyShare(machineBefore, machineCpu());
  return {
    requests,
    ms_per_request: round(wallMs / requests),
    cpu_ms_per_request: round(cpuMs / requests),
    machine_busy_other: busy === null ? null : round(Math.max(0, busy - cpuMs / (wallMs * cpus().length)), 2),
  };
}

/** Measures the bundled receiver and the bare Hono floor, each `durationMs` after `warmupMs`. */
export async function measureAppCost(options: { warmupMs: number; durationMs: number }): Promise<AppCostResult> {
  const receiver = await loadReceiver();
  let messages = 0;
  const env = {
    EVENTS: {
      send: async () => void messages++,
      sendBatch: async (batch: unknown[]) => {
        messages += batch.length;
      },
    },
    AUTH_FAILURE_LIMITER: { limit: async () => ({ success: true }) },
    NOVAMED_WEBHOOK_SECRET: "bench-webhook-key-2c7e9a1f4d3b8c05",
    NOVAMED_CLINIC_IDS: "550e8400-e29b-41d4-a716-446655440000",
    ADMIN_TOKEN: "bench-admin-token-0123456789abcdef",
  };
  const floor = new Hono().post("/webhooks/novamed", (c) => c.json({ received: true }, 200));
  // Another process's load would inflate the figures: start on a quiet machine (bounded wait).
  await waitForQuiet(30_000);
  const removePolyfill = polyfillTimingSafeEqual();
  const output = swallowConsole();
  try {
    let linesBefore = 0;
    const mine = await drive(receiver, env, {
      ...options,
      onMeasure: () => {
        messages = 0;
        linesBefore = output.lines();
      },
    });
    const logLines = output.lines() - linesBefore;
    const bare = await drive(floor, {}, options);
    return {
      receiver: {
        ...mine,
        x_floor: round(mine.cpu_ms_per_request / bare.cpu_ms_per_request, 1),
        messages_sent: messages,
        log_lines: logLines,
      },
      hono_floor: bare,
    };
  } finally {
    output.restore();
    removePolyfill();
  }
}
