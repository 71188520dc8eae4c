/**
 * The ACK load generator, run as its own process by bench/ack.ts so that its CPU time can be told
 * apart from the server's and the harness's (all share the same 2 cores). It drives autocannon
 * against one URL — a warm-up, then the measured run — with the guide's `order:shipped` example and
 * a fresh `event_id` per request (autocannon's `[<id>]` replacement), and prints one JSON line
 * ({@link LoadResult}) on stdout.
 *
 * Input: one JSON argument ({@link LoadConfig}).
 */
import autocannon from "autocannon";

/** What bench/ack.ts asks for. */
export interface LoadConfig {
  url: string;
  connections: number;
  durationS: number;
  warmupS: number;
  headers: Record<string, string>;
  /** Request body; every `[<id>]` in it is replaced by a unique id per request. */
  body: string;
}

/** What the measured run came to. Latencies are of 200 answers only, in milliseconds. */
export interface LoadResult {
  requests: number;
  ok: number;
  durationS: number;
  statusCounts: Record<string, number>;
  /** Connection errors and timeouts (no HTTP answer). */
  socketErrors: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  /** CPU time this load generator spent during the measured run (user + system). */
  cpuMs: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function run(config: LoadConfig, durationS: number, record: boolean): Promise<LoadResult> {
  // autocannon's own histogram has 1 ms resolution; ours keeps the exact sub-millisecond durations.
  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  // The callback form returns the instance, whose "response" events carry each exact duration.
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: config.url,
        method: "POST",
        connections: config.connections,
        duration: durationS,
        headers: config.headers,
        body: config.body,
        idReplacement: true,
        timeout: 10,
      },
      (error, finished) => (error ? reject(error) : resolve(finished)),
    );
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      statusCounts[statusCode] = (statusCounts[statusCode] ?? 0) + 1;
      if (record && statusCode === 200) latencies.push(responseTime);
    });
  });
  const elapsedS = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const sorted = Float64Array.from(latencies).sort();
  const ok = statusCounts["200"] ?? 0;
  return {
    requests: Object.values(statusCounts).reduce((sum, count) => sum + count, 0),
    ok,
    durationS: Math.min(elapsedS, result.duration || elapsedS),
    statusCounts,
    socketErrors: result.errors + result.timeouts,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    meanMs: sorted.length ? sorted.reduce((sum, value) => sum + value, 0) / sorted.length : 0,
    maxMs: sorted.length ? sorted[sorted.length - 1]! : 0,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

const config = JSON.parse(process.argv[2] ?? "{}") as LoadConfig;
if (config.warmupS > 0) await run(config, config.warmupS, false);
// Tells bench/ack.ts to take its "before" CPU snapshots now.
process.stderr.write("measure\n");
const result = await run(config, config.durationS, true);
process.stdout.write(`${JSON.stringify(result)}\n`);
