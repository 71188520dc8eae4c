/**
 * ACK-path measurement: the same autocannon load (bench/load-child.ts, its own process) against one
 * server, with the server's process-tree CPU, the load generator's CPU and the machine's busy share
 * read around the measured run only (not the warm-up), so the three servers are compared under
 * identical conditions and the report can tell who was using the 2 cores.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import type { LoadConfig, LoadResult } from "./load-child.ts";
import { busyShare, cpuDelta, machineCpu, treeCpu, waitForQuiet } from "./proc.ts";
import { ROOT, type Server } from "./servers.ts";

/** One server's ACK figures, as written to latest.json (`ack.<name>`). */
export interface AckResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  /** Answers other than 200, plus requests that got no answer. */
  errors: number;
  requests: number;
  /** CPU ms of the server's whole process tree per answered request; null where /proc is unreadable. */
  cpu_ms_per_request: number | null;
  /**
   * The same split by process: workerd (the runtime) and, for Workers, this harness's node, which
   * hosts Miniflare (it receives the Worker's structured log lines); for Express its node.
   */
  cpu_ms_per_request_by_process: Record<string, number>;
  /** CPU ms of the load generator per request: it shares the cores with the server. */
  load_generator_cpu_ms_per_request: number;
  /** Share of both cores busy during the measured run, 0..1. */
  machine_busy: number | null;
  /**
   * Share of both cores busy during the run that neither the server, the load generator nor the
   * harness explains: other work on the machine (a colleague's tests), which skews the comparison.
   */
  machine_busy_other: number | null;
  /** Share of both cores busy in the second before the load started (server idle). */
  machine_busy_before: number | null;
  /** Seconds spent waiting for the machine to be quiet before starting. */
  waited_for_quiet_s: number;
  /** Worker log lines per answered request (the receiver writes one), where the runtime counts them. */
  log_lines_per_request?: number;
  status_counts: Record<string, number>;
  mean_ms: number;
  max_ms: number;
}

/** The guide's order:shipped example with `[<id>]` where each request's fresh event_id goes. */
export function ackBody(): string {
  const fixture = JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "order-shipped.json"), "utf8")) as Record<
    string,
    unknown
  >;
  return JSON.stringify({ ...fixture, event_id: "evt_ack_[<id>]" });
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Runs the load against `server` and measures it. `path` is the webhook path; `apiKey` the key.
 * Throws only when the load generator itself fails.
 */
export async function measureAck(
  server: Server & { logLines?: () => number },
  options: {
    connections: number;
    durationS: number;
    warmupS: number;
    apiKey: string;
    path: string;
    quietWaitMs?: number;
  },
): Promise<AckResult> {
  const config: LoadConfig = {
    url: server.url + options.path,
    connections: options.connections,
    durationS: options.durationS,
    warmupS: options.warmupS,
    headers: { "x-api-key": options.apiKey, "content-type": "application/json" },
    body: ackBody(),
  };
  // Start only on a quiet machine (bounded wait): the server is idle now, so load is someone else's.
  const quiet = await waitForQuiet(options.quietWaitMs ?? 60_000);
  const busyBefore = quiet.busy;
  let linesBefore = 0;
  let linesAfter = 0;
  let harnessBefore = process.cpuUsage();
  let harnessCpu = { user: 0, system: 0 };
  // A type assertion keeps TypeScript from narrowing it: the callbacks below change it.
  let phase = "warm-up" as "warm-up" | "measuring" | "done";
  const child = spawn(process.execPath, [join(ROOT, "bench", "load-child.ts"), JSON.stringify(config)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let before = { server: treeCpu(server.pid), machine: machineCpu() };
  let after = before;
  let stderr = "";
  let output = "";
  // The child says on stderr when the warm-up ends: snapshot then, and again as soon as the result
  // arrives, so neither the warm-up nor the child's start-up counts.
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    if (phase === "warm-up" && stderr.includes("measure\n")) {
      before = { server: treeCpu(server.pid), machine: machineCpu() };
      harnessBefore = process.cpuUsage();
      linesBefore = server.logLines?.() ?? 0;
      phase = "measuring";
    }
  });
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    if (phase === "measuring" && output.includes("\n")) {
      after = { server: treeCpu(server.pid), machine: machineCpu() };
      harnessCpu = process.cpuUsage(harnessBefore);
      linesAfter = server.logLines?.() ?? 0;
      phase = "done";
    }
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0 || !output.trim()) throw new Error(`load generator failed (${code}): ${stderr.slice(-2000)}`);
  if (phase !== "done") after = { server: treeCpu(server.pid), machine: machineCpu() };
  const result = JSON.parse(output.trim().split("\n").at(-1)!) as LoadResult;
  const cpu = cpuDelta(before.server, after.server);
  const answered = Math.max(1, result.requests);
  const busy = busyShare(before.machine, after.machine);
  const harnessMs = (harnessCpu.user + harnessCpu.system) / 1000;
  const explainedMs = cpu.totalMs + result.cpuMs + harnessMs;
  const byProcess = { ...cpu.byComm, ...(server.logLines ? { "node (harness: miniflare)": harnessMs } : {}) };
  const other = busy === null ? null : Math.max(0, busy - explainedMs / (result.durationS * 1000 * cpus().length));
  return {
    rps: round(result.ok / result.durationS, 0),
    p50_ms: round(result.p50Ms),
    p99_ms: round(result.p99Ms),
    errors: result.requests - result.ok + result.socketErrors,
    requests: result.requests,
    cpu_ms_per_request: cpu.totalMs > 0 ? round(cpu.totalMs / answered, 3) : null,
    cpu_ms_per_request_by_process: Object.fromEntries(
      Object.entries(byProcess).map(([name, ms]) => [name, round(ms / answered, 3)]),
    ),
    load_generator_cpu_ms_per_request: round(result.cpuMs / answered, 3),
    machine_busy: busy === null ? null : round(busy),
    machine_busy_other: other === null ? null : round(other),
    machine_busy_before: busyBefore === null ? null : round(busyBefore),
    waited_for_quiet_s: round(quiet.waitedMs / 1000, 1),
    ...(server.logLines ? { log_lines_per_request: round((linesAfter - linesBefore) / answered, 2) } : {}),
    status_counts: result.statusCounts,
    mean_ms: round(result.meanMs),
    max_ms: round(result.maxMs),
  };
}
