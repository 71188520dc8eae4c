/**
 * `--profile`: a V8 CPU profile of the receiver's isolate on workerd during the pipeline pass, through
 * workerd's inspector (Miniflare's proxy on `inspectorPort`) and the DevTools protocol's `Profiler`
 * domain. It names where the Worker's own JavaScript spends its CPU (self time by function), beside
 * what it cannot see: workerd's native work outside the isolate (HTTP, the local queue broker, D1's
 * SQLite), which is the rest of the workerd process's CPU.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { ROOT } from "./servers.ts";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The DevTools protocol's `Profiler.Profile`. */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /**
   * Sampled time inside the Worker's JavaScript functions (and the runtime's API calls they make).
   * workerd does not tell V8 when its thread waits, so the samples' "(program)" (native work or
   * waiting, indistinguishable here) is reported apart and left out of this.
   */
  js_ms: number;
  program_ms: number;
  gc_ms: number;
  /** The functions with the most self time, with the bundle line they start on. */
  top_self: { function: string; line: number; ms: number }[];
  /** Self time grouped by the bundle's module comment (`// src/...`) a function lies under. */
  by_module: { module: string; ms: number }[];
}

/** Self time (µs) of each node: the time of the samples that landed in it. */
function selfTimes(profile: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  profile.samples.forEach((node, index) => {
    self.set(node, (self.get(node) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  return self;
}

/**
 * The module each bundle line belongs to: esbuild (through wrangler) writes `// path/to/file.ts`
 * before each module's code, so the last such comment above a line names its source.
 */
export function moduleOfLine(bundle: string): (line: number) => string {
  const starts: { line: number; module: string }[] = [];
  bundle.split("\n").forEach((text, index) => {
    const match = /^\/\/ ((?:src|node_modules|bench)\/\S+)$/.exec(text.trim());
    if (match) starts.push({ line: index, module: match[1]!.replace(/^node_modules\/((?:@[^/]+\/)?[^/]+).*$/, "$1") });
  });
  return (line) => {
    let found = "(bundle)";
    for (const start of starts) {
      if (start.line > line) break;
      found = start.module;
    }
    return found;
  };
}

export function summarize(profile: CpuProfile, moduleOf: (line: number) => string, top = 15): ProfileSummary {
  const self = selfTimes(profile);
  const byFunction = new Map<string, { function: string; line: number; ms: number }>();
  const byModule = new Map<string, number>();
  let js = 0;
  let program = 0;
  let gc = 0;
  for (const node of profile.nodes) {
    const micros = self.get(node.id) ?? 0;
    if (micros === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)") continue;
    if (functionName === "(program)") {
      program += micros;
      continue;
    }
    if (functionName === "(garbage collector)") gc += micros;
    else js += micros;
    const name = functionName || "(anonymous)";
    // The bundle's lines map to its modules; other scripts (workerd's own, e.g.
    // `cloudflare-internal:d1-api`, the D1 binding's client) by their name; native builtins by theirs.
    const module =
      url.endsWith(".mjs") || url.endsWith(".js")
        ? moduleOf(lineNumber)
        : url || (name.startsWith("(") ? name : `(native ${name})`);
    const key = `${name}@${url}:${lineNumber}`;
    const entry = byFunction.get(key) ?? { function: `${name} (${module})`, line: lineNumber + 1, ms: 0 };
    entry.ms += micros / 1000;
    byFunction.set(key, entry);
    byModule.set(module, (byModule.get(module) ?? 0) + micros / 1000);
  }
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    js_ms: round(js / 1000),
    program_ms: round(program / 1000),
    gc_ms: round(gc / 1000),
    top_self: [...byFunction.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((entry) => ({ ...entry, ms: round(entry.ms) })),
    by_module: [...byModule.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([module, ms]) => ({ module, ms: round(ms) })),
  };
}

/** A DevTools protocol session on one inspector target. */
class Session {
  #next = 1;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  readonly socket: WebSocket;
  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.addEventListener("message", (message) => {
      const data = JSON.parse(String(message.data)) as { id?: number; result?: unknown; error?: { message: string } };
      const waiting = data.id === undefined ? undefined : this.#pending.get(data.id);
      if (!waiting) return;
      this.#pending.delete(data.id!);
      if (data.error) waiting.reject(new Error(data.error.message));
      else waiting.resolve(data.result);
    });
  }

  static async open(url: string): Promise<Session> {
    // Miniflare's inspector proxy accepts only a local Origin (a DevTools frontend's check).
    const socket = new WebSocket(url, { headers: { origin: "http://127.0.0.1" } } as unknown as string[]);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error(`inspector: cannot connect to ${url}`)), { once: true });
    });
    return new Session(socket);
  }

  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    this.socket.send(JSON.stringify({ id, method, params }));
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** Starts sampling the isolate of `workerName`; `stop` ends it and answers the profile. */
export async function startProfile(
  inspectorPort: number,
  workerName: string,
  samplingMicros = 200,
): Promise<{ stop(): Promise<CpuProfile> }> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as {
    id: string;
    title?: string;
    webSocketDebuggerUrl: string;
  }[];
  const target = targets.find((entry) => entry.title?.includes(workerName) || entry.id.includes(workerName));
  if (!target) throw new Error(`inspector: no target for ${workerName} among ${targets.map((t) => t.id).join(", ")}`);
  const session = await Session.open(target.webSocketDebuggerUrl);
  // The proxy forwards to workerd's own inspector socket, which opens a moment after workerd is ready.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await session.send("Profiler.enable");
  await session.send("Profiler.setSamplingInterval", { interval: samplingMicros });
  await session.send("Profiler.start");
  return {
    async stop() {
      const { profile } = await session.send<{ profile: CpuProfile }>("Profiler.stop");
      session.close();
      return profile;
    },
  };
}

/** Writes the profile for Chrome DevTools' Performance panel (git-ignored under bench/results/). */
export function saveProfile(profile: CpuProfile, path: string): void {
  writeFileSync(path, JSON.stringify(profile));
}

/** A port free right now (the inspector binds it a moment later; fine for an opt-in diagnostic). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no free port");
  return address.port;
}

/**
 * The `measured` hooks of a pipeline pass that profile it: sampling starts at the first send and
 * stops at the drain; the summary goes to `onSummary`, the profile to bench/results/<label>.cpuprofile.
 */
export function profiled(
  inspectorPort: number,
  workerName: string,
  bundlePath: string,
  onSummary: (summary: ProfileSummary) => void,
): { start(): Promise<void>; end(): Promise<void> } {
  let running: { stop(): Promise<CpuProfile> } | null = null;
  return {
    async start() {
      running = await startProfile(inspectorPort, workerName);
    },
    async end() {
      if (!running) return;
      const profile = await running.stop();
      running = null;
      saveProfile(profile, join(ROOT, "bench", "results", `${workerName}.cpuprofile`));
      onSummary(summarize(profile, moduleOfLine(readFileSync(bundlePath, "utf8"))));
    },
  };
}
