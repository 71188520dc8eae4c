import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../tools/simulator/cli.ts";
import { buildPlan } from "../../tools/simulator/generator.ts";
import { percentile, progressLine } from "../../tools/simulator/report.ts";
import { createStats, RETRY_DELAYS_MS, sendPlan } from "../../tools/simulator/sender.ts";
import {
  capture,
  closedPortUrl,
  type FakeServer,
  type RecordedRequest,
  type Reply,
  runTool,
  startFakeServer,
} from "./fake-server.ts";

const API_KEY = "simulator-test-key-3f8a1c9e7b2d4e60";
const CLINIC_ID = "550e8400-e29b-41d4-a716-446655440000";
const SCALE = 0.001;

let receiver: FakeServer | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

/** Virtual time: sleeping records the delay and moves the clock; nothing actually waits. */
function fakeTime() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

/** A receiver that answers 500 to the first `failures` attempts of each event_id, then `then`. */
async function flakyReceiver(failures: number, then = 200, onRequest?: (request: RecordedRequest) => void) {
  const seen = new Map<string, number>();
  receiver = await startFakeServer((request): Reply => {
    onRequest?.(request);
    const id = String(JSON.parse(request.body).event_id);
    const attempt = (seen.get(id) ?? 0) + 1;
    seen.set(id, attempt);
    return attempt <= failures
      ? { status: 500, body: '{"error":{"code":"boom","message":"x"}}' }
      : { status: then, body: '{"received":true}' };
  });
  return { url: `${receiver.url}/webhooks/novamed`, seen };
}

/** One clinic's plan of `count` events in order, without duplicates. */
function planOf(seed: string, count: number) {
  return buildPlan({ seed, clinicId: CLINIC_ID, startTime: 0, count, duplicateRate: 0, outOfOrderRate: 0 });
}

/** Sends `sends` one at a time to `url`, with retries at {@link SCALE} of NovaMed's delays on `time`. */
function sendScaled(sends: Parameters<typeof sendPlan>[0], url: string, time: ReturnType<typeof fakeTime>) {
  return sendPlan(sends, {
    target: url,
    apiKey: API_KEY,
    timeoutMs: 5000,
    concurrency: 1,
    retryScale: SCALE,
    sleep: time.sleep,
    now: time.now,
  });
}

function eventIdsOf(server: FakeServer): string[] {
  return server.requests.map((request) => String(JSON.parse(request.body).event_id));
}

describe("the simulator's retry schedule (NovaMed's: immediate, 1 min, 5 min, 15 min, 1 h)", () => {
  it("retries a 500 after 1 min then 5 min (scaled), and then succeeds", async () => {
    const time = fakeTime();
    const arrivals: number[] = [];
    const { url } = await flakyReceiver(2, 200, () => arrivals.push(time.now()));
    const { sends } = planOf("one", 1);

    const stats = await sendScaled(sends, url, time);

    expect(time.sleeps).toEqual([60_000 * SCALE, 300_000 * SCALE]);
    expect(arrivals).toEqual([0, 60_000 * SCALE, 360_000 * SCALE]);
    // The gaps keep NovaMed's 1 : 5 ratio at any scale.
    expect((arrivals[2]! - arrivals[1]!) / (arrivals[1]! - arrivals[0]!)).toBeCloseTo(5);
    expect(stats).toMatchObject({ delivered: 1, givenUp: 0, retries: 2, attempts: 3, results: { "200": 1, "500": 2 } });
  });

  it("gives up after the 5th failed attempt, having waited 1, 5, 15 and 60 min (scaled)", async () => {
    const time = fakeTime();
    const arrivals: number[] = [];
    const { url } = await flakyReceiver(Number.POSITIVE_INFINITY, 200, () => arrivals.push(time.now()));
    const { sends } = planOf("one", 1);

    const stats = await sendScaled(sends, url, time);

    expect(RETRY_DELAYS_MS).toEqual([0, 60_000, 300_000, 900_000, 3_600_000]);
    expect(time.sleeps).toEqual([60, 300, 900, 3600]);
    expect(arrivals).toEqual([0, 60, 360, 1260, 4860]);
    expect(stats).toMatchObject({ delivered: 0, givenUp: 1, attempts: 5, retries: 4 });
  });

  it("treats any non-200, even a 2xx, as a failure", async () => {
    const time = fakeTime();
    const { url } = await flakyReceiver(0, 202);
    const { sends } = planOf("one", 1);
    const stats = await sendScaled(sends, url, time);
    expect(stats).toMatchObject({ givenUp: 1, attempts: 5, results: { "202": 5 } });
  });

  it("sends each event as NovaMed does: POST, x-api-key, JSON body", async () => {
    const { url } = await flakyReceiver(0);
    const { sends } = planOf("shape", 5);
    await sendPlan(sends, { target: url, apiKey: API_KEY, timeoutMs: 5000, concurrency: 1, retryScale: 0 });
    expect(receiver!.requests.map((request) => request.body)).toEqual(sends.map((send) => send.body));
    for (const request of receiver!.requests) {
      expect(request.method).toBe("POST");
      expect(request.url).toBe("/webhooks/novamed");
      expect(request.headers["x-api-key"]).toBe(API_KEY);
      expect(request.headers["content-type"]).toBe("application/json");
    }
  });

  it("never has more than --concurrency requests in flight", async () => {
    let active = 0;
    let peak = 0;
    receiver = await startFakeServer(async () => {
      active += 1;
      peak = Math.max(peak, active);
      await new Promise((resolve) => setImmediate(resolve));
      active -= 1;
      return { status: 200, body: "{}" };
    });
    const { sends } = planOf("c", 30);
    const stats = await sendPlan(sends, {
      target: `${receiver.url}/webhooks/novamed`,
      apiKey: API_KEY,
      timeoutMs: 5000,
      concurrency: 2,
      retryScale: 0,
    });
    expect(stats.delivered).toBe(30);
    expect(peak).toBeLessThanOrEqual(2);
  });
});

describe("npm run simulate against a receiver that answers 500 twice, then 200", () => {
  it("delivers everything, exits 0, and reports the retries", async () => {
    const time = fakeTime();
    const { url, seen } = await flakyReceiver(2);
    const out = capture();
    const code = await main(
      ["--target", url, "--api-key", API_KEY, "--count", "20", "--seed", "s", "--retry-scale", String(SCALE), "--json"],
      {},
      { ...out.io, sleep: time.sleep, now: time.now, progressIntervalMs: 0 },
    );

    expect(code).toBe(0);
    expect([...seen.values()]).toEqual(Array(20).fill(3));
    // Twenty events, each waited 1 min then 5 min (scaled), whatever the interleaving.
    expect([...time.sleeps].sort((a, b) => a - b)).toEqual([...Array(20).fill(60), ...Array(20).fill(300)]);
    const summary = JSON.parse(out.stdout.join("\n"));
    expect(summary).toMatchObject({
      sent: 20,
      ok: 20,
      retries: 40,
      given_up: 0,
      attempts: 60,
      duplicates_sent: 0,
      results: { "200": 20, "500": 40 },
      seed: "s",
    });
    expect(summary.latency_ms).toEqual({ p50: expect.any(Number), p99: expect.any(Number) });
    expect(out.stderr.join("\n")).toContain("answered 500 instead of 200");
    expect(JSON.stringify(summary)).not.toContain(API_KEY);
  });

  it("re-sends duplicates with the same event_id and body", async () => {
    const time = fakeTime();
    const { url } = await flakyReceiver(0);
    const out = capture();
    const code = await main(
      [
        "--target",
        url,
        "--api-key",
        API_KEY,
        "--count",
        "100",
        "--duplicate-rate",
        "0.2",
        "--seed",
        "d",
        "--concurrency",
        "8",
      ],
      {},
      { ...out.io, sleep: time.sleep, now: time.now, progressIntervalMs: 0 },
    );
    expect(code).toBe(0);
    const ids = eventIdsOf(receiver!);
    expect(ids).toHaveLength(100);
    expect(new Set(ids).size).toBe(80);
    const firstBody = new Map<string, string>();
    for (const request of receiver!.requests) {
      const id = String(JSON.parse(request.body).event_id);
      expect(firstBody.get(id) ?? request.body).toBe(request.body);
      firstBody.set(id, request.body);
    }
    expect(out.stdout.join("\n")).toMatch(/sent {10}100 \(80 events, 20 duplicates/);
  });

  it("gives up after 5 attempts and exits 1 when the receiver always fails", async () => {
    const time = fakeTime();
    const { url, seen } = await flakyReceiver(Number.POSITIVE_INFINITY);
    const out = capture();
    const code = await main(
      ["--target", url, "--api-key", API_KEY, "--count", "3", "--retry-scale", String(SCALE), "--json"],
      {},
      { ...out.io, sleep: time.sleep, now: time.now, progressIntervalMs: 0 },
    );
    expect(code).toBe(1);
    expect([...seen.values()]).toEqual([5, 5, 5]);
    expect(JSON.parse(out.stdout.join(""))).toMatchObject({ sent: 3, ok: 0, given_up: 3, retries: 12, attempts: 15 });
  });

  it("counts an unreachable receiver as failures, with a hint", async () => {
    const time = fakeTime();
    const out = capture();
    const code = await main(
      ["--target", `${await closedPortUrl()}/webhooks/novamed`, "--api-key", API_KEY, "--count", "2", "--json"],
      {},
      { ...out.io, sleep: time.sleep, now: time.now, progressIntervalMs: 0 },
    );
    expect(code).toBe(1);
    expect(JSON.parse(out.stdout.join(""))).toMatchObject({
      given_up: 2,
      results: { network_error: 10 },
      latency_ms: { p50: null, p99: null },
    });
    expect(out.stderr.join("\n")).toMatch(/cannot connect to .*npm run dev/);
  });

  it("counts no answer within --timeout as a failure", async () => {
    receiver = await startFakeServer(() => "hang");
    const out = capture();
    const code = await main(
      [
        "--target",
        `${receiver.url}/webhooks/novamed`,
        "--api-key",
        API_KEY,
        "--count",
        "1",
        "--timeout",
        "0.2",
        "--retry-scale",
        "0",
        "--json",
      ],
      {},
      { ...out.io, progressIntervalMs: 0 },
    );
    expect(code).toBe(1);
    expect(JSON.parse(out.stdout.join(""))).toMatchObject({ given_up: 1, results: { timeout: 5 } });
    expect(out.stderr.join("\n")).toContain("no answer within 0.2 s");
  });

  it("hints at the receiver's secret on a 401", async () => {
    receiver = await startFakeServer(() => ({ status: 401, body: "{}" }));
    const time = fakeTime();
    const out = capture();
    await main(
      ["--target", receiver.url, "--count", "1"],
      { NOVAMED_WEBHOOK_SECRET: "wrong" },
      { ...out.io, sleep: time.sleep, now: time.now, progressIntervalMs: 0 },
    );
    expect(out.stderr).toHaveLength(1);
    expect(out.stderr[0]).toMatch(/401.*NOVAMED_WEBHOOK_SECRET/);
  });
});

describe("report", () => {
  it("takes nearest-rank percentiles", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });

  it("shows sent, ok, retries and given up in the progress line", () => {
    const stats = { ...createStats(50), started: 12, delivered: 10, retries: 3, givenUp: 1, waiting: 2 };
    expect(progressLine(stats, 4200)).toBe(
      "simulate: 4s · sent 12/50 · ok 10 · retries 3 · waiting to retry 2 · given up 1",
    );
  });
});

describe("npm run simulate as a real process", () => {
  it("exits 0 when every event got a 200, 1 when one was given up, 2 on a usage error", async () => {
    const { url } = await flakyReceiver(0);
    const ok = await runTool(
      "tools/simulator/cli.ts",
      ["--target", url, "--count", "5", "--retry-scale", "0", "--json"],
      { NOVAMED_WEBHOOK_SECRET: API_KEY },
    );
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ sent: 5, ok: 5, given_up: 0 });
    await receiver!.close();

    const failing = await flakyReceiver(Number.POSITIVE_INFINITY);
    const gaveUp = await runTool("tools/simulator/cli.ts", [
      "--target",
      failing.url,
      "--api-key",
      API_KEY,
      "--count",
      "1",
      "--retry-scale",
      "0",
    ]);
    expect(gaveUp.code).toBe(1);
    expect(gaveUp.stdout).toMatch(/given up {6}1/);

    const usage = await runTool("tools/simulator/cli.ts", ["--count", "0", "--api-key", API_KEY]);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim().split("\n")).toHaveLength(1);
    expect(usage.stderr).not.toMatch(/\s+at\s/);
  });
});
