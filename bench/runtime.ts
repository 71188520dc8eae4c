/**
 * The Workers runtime without `wrangler dev`: each Worker is bundled (the receiver by `wrangler deploy
 * --dry-run`, exactly what would be uploaded) and run on workerd through Miniflare's API, in this
 * process. workerd serves HTTP itself, so no dev proxy and no log relay sit in the measured path; the
 * bindings (queues, D1, rate limiter, crons) come from wrangler.toml through wrangler's own
 * `unstable_getMiniflareWorkerOptions`, so they are the ones `wrangler dev` would give.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { build } from "esbuild";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from "wrangler";
import { logLineKey } from "./cost.ts";
import { treeCpu } from "./proc.ts";
import { ROOT, type Server } from "./servers.ts";

const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

/** A Worker running on workerd under Miniflare, with the handles the bench parts need. */
export interface RuntimeServer extends Server {
  mf: Miniflare;
  /** Lines the Worker wrote to stdout/stderr (its JSON logs), counted and dropped. */
  logLines(): number;
  /** The same lines by what they say (bench/cost.ts `logLineKey`), so far. */
  logTally(): Record<string, number>;
}

/** `wrangler deploy --dry-run --outdir`: the receiver exactly as it would be uploaded. */
export function bundleReceiver(outdir: string, config = join(ROOT, "wrangler.toml")): string {
  execFileSync(process.execPath, [WRANGLER, "deploy", "--dry-run", "--config", config, "--outdir", outdir], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "true" },
    stdio: "pipe",
  });
  return join(outdir, "index.js");
}

/** esbuild with wrangler's resolution for workerd (bench-only Workers: floors and the bench entry). */
export async function bundleWorker(entry: string, outdir: string, minify = true): Promise<string> {
  const outfile = join(outdir, `${entry.split("/").at(-1)!.replace(/\.ts$/, "")}.mjs`);
  await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["browser", "module", "main"],
    external: ["cloudflare:*", "node:*"],
    target: "es2024",
    minify,
    outfile,
    logLevel: "silent",
  });
  return outfile;
}

/** The pid of the workerd process Miniflare started for `mf` (the newest workerd child of this process). */
function workerdPid(known: Set<number>): number {
  const children = [...treeCpu(process.pid).entries()].filter(
    ([pid, stat]) => stat.comm.startsWith("workerd") && pid !== process.pid && !known.has(pid),
  );
  if (children.length === 0) throw new Error("no workerd process found for the Miniflare instance");
  return Math.max(...children.map(([pid]) => pid));
}

const started = new Set<number>();
const instances = new Set<Miniflare>();

/** Disposes every Miniflare still running (Ctrl-C, harness error). */
export async function disposeAll(): Promise<void> {
  await Promise.allSettled([...instances].map((mf) => mf.dispose()));
  instances.clear();
}

/** Kills every workerd this process started, synchronously (for process.on("exit")). */
export function killRuntimesSync(): void {
  for (const pid of started) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  started.clear();
}

/**
 * Runs `scriptPath` on workerd. `wranglerConfig` gives the bindings (wrangler.toml for the receiver);
 * `consumers: false` drops the queue consumers, so messages stay in the queue (the ACK part measures
 * the edge alone). With `persist`, D1 lives in that directory (for the storage figures).
 */
export async function startRuntime(options: {
  name: string;
  scriptPath: string;
  wranglerConfig?: string;
  vars?: Record<string, string>;
  consumers?: boolean;
  /** Queues whose consumers are dropped (their messages stay queued, or are captured by the bench entry). */
  withoutConsumers?: string[];
  persist?: string;
  migrate?: boolean;
  outboundService?: (request: Request) => Promise<Response> | Response;
  /** Opens workerd's inspector (through Miniflare's proxy) on this port, for `--profile` (bench/profile.ts). */
  inspectorPort?: number;
}): Promise<RuntimeServer> {
  // Only what the Worker binds (the rest of wrangler's options, e.g. module rules, is about bundling).
  const fromConfig: Record<string, unknown> = options.wranglerConfig
    ? pick(unstable_getMiniflareWorkerOptions(options.wranglerConfig).workerOptions as Record<string, unknown>, [
        "compatibilityDate",
        "compatibilityFlags",
        "bindings",
        "d1Databases",
        // The archive's bucket: without it the crons' archive job failed on every run in the bench.
        "r2Buckets",
        "queueProducers",
        "queueConsumers",
        "ratelimits",
      ])
    : { compatibilityDate: "2026-11-01" };
  const workerOptions = {
    ...fromConfig,
    name: options.name,
    modules: true,
    scriptPath: options.scriptPath,
    // The module's name is its path from here: outside it (a temp dir) workerd rejects "../" names.
    modulesRoot: dirname(options.scriptPath),
    bindings: { ...((fromConfig as { bindings?: Record<string, string> }).bindings ?? {}), ...options.vars },
    ...(options.consumers === false ? { queueConsumers: {} } : {}),
    ...(options.consumers !== false && options.withoutConsumers
      ? {
          queueConsumers: Object.fromEntries(
            Object.entries((fromConfig.queueConsumers ?? {}) as Record<string, unknown>).filter(
              ([queue]) => !options.withoutConsumers!.includes(queue),
            ),
          ),
        }
      : {}),
    ...(options.outboundService ? { outboundService: options.outboundService } : {}),
    ...(options.inspectorPort !== undefined ? { unsafeInspectorProxy: true } : {}),
  } as unknown as Parameters<typeof convertV4MiniflareOptions>[0];
  const tally = new Map<string, number>();
  const known = new Set(started);
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      // workerd binds a free port itself: a port picked here first could be taken by another
      // process on a shared machine before workerd binds it (ERR_ADDRESS_IN_USE).
      port: 0,
      ...(options.inspectorPort !== undefined ? { inspectorPort: options.inspectorPort } : {}),
      ...(options.persist ? { resourcePersistencePath: options.persist } : {}),
      // The Worker's log lines reach this process as structured logs and are dropped here: production
      // ships them to Workers Logs, not to a terminal. Counted, so a part can check one per request,
      // and by what they say, so the pipeline can price them (Workers Logs bills each line).
      handleStructuredLogs: ({ message }: { message: string }) => {
        const key = logLineKey(message);
        tally.set(key, (tally.get(key) ?? 0) + 1);
      },
      workers: [workerOptions],
    } as unknown as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  instances.add(mf);
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const pid = workerdPid(known);
  started.add(pid);
  if (options.migrate) await applyMigrations(mf);
  return {
    name: options.name,
    url,
    pid,
    mf,
    logLines: () => [...tally.values()].reduce((sum, count) => sum + count, 0),
    logTally: () => Object.fromEntries(tally),
    onLine: () => () => {},
    async stop() {
      if (!instances.delete(mf)) return;
      await mf.dispose();
      started.delete(pid);
    },
  };
}

/** Applies migrations/*.sql in order, each as one D1 batch (what `wrangler d1 migrations apply` does). */
export async function applyMigrations(mf: Miniflare): Promise<void> {
  const db = await mf.getD1Database("DB");
  const directory = join(ROOT, "migrations");
  for (const file of readdirSync(directory)
    .filter((name) => name.endsWith(".sql"))
    .sort()) {
    const statements = unstable_splitSqlQuery(readFileSync(join(directory, file), "utf8"));
    if (statements.length > 0) await db.batch(statements.map((sql) => db.prepare(sql)));
  }
}

const pick = (object: Record<string, unknown>, keys: string[]) =>
  Object.fromEntries(keys.filter((key) => key in object).map((key) => [key, object[key]]));

/** A fresh temporary directory for a run's D1; removed by the returned function. */
export function tempDirectory(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
