import type { PlannedSend } from "./generator.ts";

/**
 * Delivers a plan the way NovaMed does (guide: "Retry Policy"): POST with `x-api-key`, and anything
 * but a 200 — another status, a network error, no answer within the timeout — is retried after
 * 1 min, 5 min, 15 min and 1 h; after the 5th failed attempt the delivery is given up.
 * Sleeping and the clock are injectable so tests run the whole schedule in no time.
 */

/** Delay before each attempt, in ms: attempt 1 is immediate, then 1 min, 5 min, 15 min, 1 h. */
export const RETRY_DELAYS_MS: readonly number[] = [0, 60_000, 300_000, 900_000, 3_600_000];

/** How one attempt ended: the HTTP status, or why there was none. */
export type AttemptResult = number | "timeout" | "network_error";

export interface AttemptRecord {
  send: PlannedSend;
  /** 1 to 5. */
  attempt: number;
  /** The delay waited before this attempt, in ms, after --retry-scale. */
  delayMs: number;
  result: AttemptResult;
  /** Time to the answer (null when there was none), by the injected clock. */
  latencyMs: number | null;
  /** Whether this attempt ended the delivery (a 200, or the 5th failure). */
  final: boolean;
}

export interface SenderOptions {
  target: string;
  apiKey: string;
  /** Per-attempt timeout: NovaMed expects an answer within 5 s. */
  timeoutMs: number;
  /** Requests in flight at once. Waiting for a retry does not hold a slot. */
  concurrency: number;
  /** Multiplies every retry delay; 0.01 turns the 1 h wait into 36 s. */
  retryScale: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** A monotonic clock in ms, for latencies. */
  now?: () => number;
  /** Called after every attempt, e.g. for progress hints. */
  onAttempt?: (record: AttemptRecord) => void;
}

/** Live counters, readable while the run goes on (the progress line reads them every second). */
export interface SendStats {
  planned: number;
  /** Deliveries whose first attempt has been made. */
  started: number;
  /** Deliveries that got a 200. */
  delivered: number;
  /** Deliveries given up after 5 failed attempts. */
  givenUp: number;
  /** Attempts after the first, over all deliveries. */
  retries: number;
  attempts: number;
  /** Deliveries currently sleeping until their next attempt. */
  waiting: number;
  /** Re-sends of an already-sent event that were delivered or given up. */
  duplicatesSent: number;
  /** Attempts by result: "200", "500", "timeout", "network_error", … */
  results: Record<string, number>;
  /** Latency of every attempt that got an answer, in ms. */
  latenciesMs: number[];
}

/** Fresh, zeroed counters for a plan of `planned` deliveries. */
export function createStats(planned: number): SendStats {
  return {
    planned,
    started: 0,
    delivered: 0,
    givenUp: 0,
    retries: 0,
    attempts: 0,
    waiting: 0,
    duplicatesSent: 0,
    results: {},
    latenciesMs: [],
  };
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Delivers every send of the plan, in plan order, with NovaMed's retry policy, and resolves with the
 * final counters (the same object as `stats`). Never rejects for a receiver's failure.
 */
export async function sendPlan(
  sends: readonly PlannedSend[],
  options: SenderOptions,
  stats: SendStats = createStats(sends.length),
): Promise<SendStats> {
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? realSleep;
  const now = options.now ?? (() => performance.now());
  const limit = createLimiter(Math.max(1, options.concurrency));

  // A re-send waits until its original's first attempt is over, so it really is a re-send.
  const firstAttemptDone = sends.map(() => Promise.withResolvers<void>());

  const attempt = async (send: PlannedSend): Promise<{ result: AttemptResult; latencyMs: number | null }> => {
    const started = now();
    const signal = AbortSignal.timeout(options.timeoutMs);
    try {
      const response = await doFetch(options.target, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": options.apiKey },
        body: send.body,
        signal,
      });
      // Read the body so the connection can be reused; the content does not matter.
      await response.arrayBuffer();
      return { result: response.status, latencyMs: now() - started };
    } catch {
      return { result: signal.aborted ? "timeout" : "network_error", latencyMs: null };
    }
  };

  const deliver = async (send: PlannedSend): Promise<void> => {
    // A re-send waits until its original has been tried once, as NovaMed's re-sends come after it.
    if (send.duplicateOf !== null) await firstAttemptDone[send.duplicateOf]?.promise;
    for (const [position, scheduledDelayMs] of RETRY_DELAYS_MS.entries()) {
      const number = position + 1;
      const delayMs = scheduledDelayMs * options.retryScale;
      if (number > 1) {
        stats.waiting += 1;
        await sleep(delayMs);
        stats.waiting -= 1;
        stats.retries += 1;
      }
      const { result, latencyMs } = await limit(() => attempt(send));
      if (number === 1) {
        stats.started += 1;
        firstAttemptDone[send.index]?.resolve();
      }
      stats.attempts += 1;
      stats.results[String(result)] = (stats.results[String(result)] ?? 0) + 1;
      if (latencyMs !== null) stats.latenciesMs.push(latencyMs);

      const ok = result === 200;
      const final = ok || number === RETRY_DELAYS_MS.length;
      options.onAttempt?.({ send, attempt: number, delayMs, result, latencyMs, final });
      if (!final) continue;
      if (ok) stats.delivered += 1;
      else stats.givenUp += 1;
      if (send.duplicateOf !== null) stats.duplicatesSent += 1;
      return;
    }
  };

  await Promise.all(sends.map((send) => deliver(send)));
  return stats;
}

/** A FIFO limiter: at most `max` calls run at once, started in the order they asked. */
function createLimiter(max: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: Array<() => void> = [];
  return async (task) => {
    if (active >= max) await new Promise<void>((resolve) => queue.push(resolve));
    else active += 1;
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, so `active` never drops below a queued start.
      const next = queue.shift();
      if (next) next();
      else active -= 1;
    }
  };
}
