/**
 * Starts and stops servers that run as their own process (the Express reference, on the same node as
 * the harness), on a fresh 127.0.0.1 port, in their own process group, so stopping them (also on
 * Ctrl-C or a harness error) takes down any children too. Their output goes to
 * bench/results/<name>.log (git-ignored). The Workers run on workerd through Miniflare instead
 * (bench/runtime.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { freePort, treeCpu } from "./proc.ts";

/** The repository root (bench/..), where wrangler.toml and node_modules live. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RESULTS = join(ROOT, "bench", "results");

/** A JSON log line from a server (a Worker's console.log), or null for any other output line. */
export type LineListener = (line: string, json: Record<string, unknown> | null) => void;

/** A running server the harness started. */
export interface Server {
  name: string;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Pid of the process we spawned; also its process group id. */
  pid: number;
  /** Subscribes to output lines (stdout and stderr); returns the unsubscribe function. */
  onLine(listener: LineListener): () => void;
  /** Stops the whole process tree: SIGTERM to the group, SIGKILL to whatever is left after 5 s. */
  stop(): Promise<void>;
}

const running = new Set<{ pid: number; known: Set<number>; cleanup: () => void }>();

/** Kills every server still running, synchronously: for `process.on("exit")` and fatal errors. */
export function killAllSync(): void {
  for (const entry of running) {
    for (const pid of [entry.pid, ...entry.known]) {
      try {
        process.kill(pid === entry.pid ? -pid : pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    entry.cleanup();
  }
  running.clear();
}

/** Stops every server still running (graceful first). */
export async function stopAll(servers: Server[]): Promise<void> {
  await Promise.all(servers.map((server) => server.stop()));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Worker's JSON log object in an output line, or null. wrangler prints console.log lines as
 * they are, but wraps console.warn/error lines in "▲ [WARNING]" and colour codes (even with
 * NO_COLOR), so strip escape codes and take the outermost {...}.
 */
export function jsonOf(line: string): Record<string, unknown> | null {
  const plain = stripVTControlCharacters(line);
  const start = plain.indexOf('{"');
  const end = plain.lastIndexOf("}");
  if (start < 0 || end < start) return null;
  try {
    const value = JSON.parse(plain.slice(start, end + 1)) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Spawns `command` in its own process group and wires output, readiness and stopping. */
async function launch(options: {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  port: number;
  readyPath: string;
  ready: (status: number) => boolean;
  tempDir?: string;
  readyTimeoutMs?: number;
}): Promise<Server> {
  const log = createWriteStream(join(RESULTS, `${options.name}.log`));
  // detached: a new process group, so the kill below reaches wrangler's node and workerd children,
  // and a Ctrl-C in the terminal reaches only the harness, which then stops the servers in order.
  const child: ChildProcess = spawn(options.command, options.args, {
    cwd: ROOT,
    env: options.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid!;
  const listeners = new Set<LineListener>();
  const tail: string[] = [];
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  const entry = {
    pid,
    known: new Set<number>(),
    cleanup: () => {
      log.end();
      if (options.tempDir) rmSync(options.tempDir, { recursive: true, force: true });
    },
  };
  running.add(entry);

  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
      log.write(`${line}\n`);
      tail.push(line);
      if (tail.length > 40) tail.shift();
      for (const listener of listeners) listener(line, jsonOf(line));
    });
  }

  const url = `http://127.0.0.1:${options.port}`;
  const server: Server = {
    name: options.name,
    url,
    pid,
    onLine(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      if (!running.has(entry)) return;
      for (const known of treeCpu(pid).keys()) entry.known.add(known);
      try {
        process.kill(-pid, "SIGTERM");
      } catch {
        // group already gone
      }
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && (!exited || [...entry.known].some(alive))) await sleep(100);
      for (const known of [...entry.known].filter(alive)) {
        try {
          process.kill(known, "SIGKILL");
        } catch {
          // raced with its exit
        }
      }
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // group already gone
      }
      await Promise.race([exitedPromise, sleep(2000)]);
      running.delete(entry);
      entry.cleanup();
    },
  };

  // Ready when the server answers the probe as expected; fail fast if it exits first.
  const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
  while (true) {
    if (exited) {
      await server.stop();
      throw new Error(`${options.name} exited before it was ready:\n${tail.join("\n")}`);
    }
    try {
      const response = await fetch(url + options.readyPath, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (options.ready(response.status)) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(
        `${options.name} was not ready within ${(options.readyTimeoutMs ?? 90_000) / 1000} s:\n${tail.join("\n")}`,
      );
    }
    await sleep(250);
  }
  for (const known of treeCpu(pid).keys()) entry.known.add(known);
  return server;
}

/** Starts the guide's Express example (bench/express-reference.ts) on the harness's own node. */
export async function startExpress(name: string, webhookSecret: string): Promise<Server> {
  const port = await freePort();
  return launch({
    name,
    command: process.execPath,
    args: [join(ROOT, "bench", "express-reference.ts")],
    env: { ...process.env, PORT: String(port), NOVAMED_WEBHOOK_SECRET: webhookSecret },
    port,
    // It has no GET route: any HTTP answer (Express's 404) means it is listening.
    readyPath: "/",
    ready: () => true,
    readyTimeoutMs: 30_000,
  });
}
