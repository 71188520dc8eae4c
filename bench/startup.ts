/**
 * The `startup` part: the size of the bundle wrangler would upload (`wrangler deploy --dry-run`, so
 * wrangler.toml's `minify` applies), what it is made of, and the Worker's startup CPU as
 * `wrangler check startup` profiles it on workerd (active samples of its CPU profile, median of a few
 * runs: single runs vary by a factor of two on this machine). As a bound for a decision not taken
 * here, the size of the same Worker with `zod` aliased to `zod/mini` (built only, it would not run:
 * the schemas use the full build's methods).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { bundleReceiver } from "./runtime.ts";
import { ROOT } from "./servers.ts";

const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

/** `latest.json`'s `startup`. */
export interface StartupResult {
  bundle_kib: number;
  bundle_gzip_kib: number;
  minified: boolean;
  /** Median active (non-idle) CPU ms of the startup profile, garbage collection included. */
  startup_cpu_ms: number;
  startup_cpu_ms_runs: number[];
  /** Share of the unminified input bytes by origin (zod, hono, src, other). */
  composition: Record<string, number>;
  /** The same Worker, minified, with zod → zod/mini (size only; it would not run as is). */
  zod_mini_bound_gzip_kib: number;
  /** The same Worker, minified, without zod at all (zod left external): the floor of any schema choice. */
  without_zod_gzip_kib: number;
}

const kib = (bytes: number) => Math.round((bytes / 1024) * 10) / 10;

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Active CPU ms of a V8 CPU profile: every sample but idle. */
function activeMs(profile: CpuProfile): number {
  const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === "(idle)").map((node) => node.id));
  let micros = 0;
  profile.samples.forEach((sample, index) => {
    if (!idle.has(sample)) micros += profile.timeDeltas[index] ?? 0;
  });
  return micros / 1000;
}

async function esbuildSize(
  alias: Record<string, string>,
  external: string[] = [],
): Promise<{ gzip: number; inputs: Record<string, number> }> {
  const result = await build({
    entryPoints: [join(ROOT, "src", "index.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["browser", "module", "main"],
    external: ["cloudflare:*", "node:*", ...external],
    target: "es2024",
    minify: true,
    write: false,
    metafile: true,
    alias,
    logLevel: "silent",
  });
  const inputs: Record<string, number> = {};
  for (const output of Object.values(result.metafile.outputs))
    for (const [path, input] of Object.entries(output.inputs)) {
      const origin = path.includes("node_modules/zod/")
        ? "zod"
        : path.includes("node_modules/hono/")
          ? "hono"
          : path.startsWith("src/")
            ? "src"
            : "other";
      inputs[origin] = (inputs[origin] ?? 0) + input.bytesInOutput;
    }
  return { gzip: gzipSync(result.outputFiles[0]!.contents).length, inputs };
}

/** Measures the bundle and its startup; `runs` profiles (the median is reported). */
export async function measureStartup(directory: string, runs = 5): Promise<StartupResult> {
  const bundle = bundleReceiver(join(directory, "upload"));
  const code = readFileSync(bundle);
  const minified = /^\s*minify\s*=\s*true/m.test(readFileSync(join(ROOT, "wrangler.toml"), "utf8"));
  const samples: number[] = [];
  for (let run = 0; run < runs; run++) {
    const outfile = join(directory, `startup-${run}.cpuprofile`);
    execFileSync(process.execPath, [WRANGLER, "check", "startup", "--outfile", outfile], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "true" },
      stdio: "pipe",
    });
    samples.push(Math.round(activeMs(JSON.parse(readFileSync(outfile, "utf8")) as CpuProfile) * 10) / 10);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const full = await esbuildSize({});
  const total = Object.values(full.inputs).reduce((sum, bytes) => sum + bytes, 0);
  const mini = await esbuildSize({ zod: "zod/mini" });
  const withoutZod = await esbuildSize({}, ["zod", "zod/*", "@hono/zod-validator"]);
  return {
    bundle_kib: kib(code.length),
    bundle_gzip_kib: kib(gzipSync(code).length),
    minified,
    startup_cpu_ms: sorted[Math.floor(sorted.length / 2)]!,
    startup_cpu_ms_runs: samples,
    composition: Object.fromEntries(
      Object.entries(full.inputs).map(([origin, bytes]) => [origin, Math.round((100 * bytes) / total) / 100]),
    ),
    zod_mini_bound_gzip_kib: kib(mini.gzip),
    without_zod_gzip_kib: kib(withoutZod.gzip),
  };
}
