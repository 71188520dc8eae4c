import type { SendStats } from "./sender.ts";

/** The progress line and the end-of-run summary, in text and JSON. */

export interface RunInfo {
  target: string;
  seed: string;
  startTime: string;
  uniqueEvents: number;
  shuffledLifecycles: number;
}

export interface Summary {
  target: string;
  seed: string;
  start_time: string;
  /** Deliveries made (first attempts), re-sends included. */
  sent: number;
  unique_events: number;
  duplicates_sent: number;
  shuffled_lifecycles: number;
  /** Deliveries that eventually got a 200. */
  ok: number;
  retries: number;
  given_up: number;
  attempts: number;
  /** Attempts by result: "200", "500", "timeout", "network_error", … */
  results: Record<string, number>;
  /** Over attempts that got an answer; null when none did. */
  latency_ms: { p50: number | null; p99: number | null };
}

/** Nearest-rank percentile of `values` (0 < p ≤ 100), rounded to 0.1 ms; null for no values. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  const value = sorted[Math.min(rank, sorted.length) - 1] ?? Number.NaN;
  return Math.round(value * 10) / 10;
}

/** The summary the CLI prints (as text, or as JSON with --json). */
export function summarize(stats: SendStats, info: RunInfo): Summary {
  return {
    target: info.target,
    seed: info.seed,
    start_time: info.startTime,
    sent: stats.started,
    unique_events: info.uniqueEvents,
    duplicates_sent: stats.duplicatesSent,
    shuffled_lifecycles: info.shuffledLifecycles,
    ok: stats.delivered,
    retries: stats.retries,
    given_up: stats.givenUp,
    attempts: stats.attempts,
    results: Object.fromEntries(Object.entries(stats.results).sort(([a], [b]) => a.localeCompare(b))),
    latency_ms: { p50: percentile(stats.latenciesMs, 50), p99: percentile(stats.latenciesMs, 99) },
  };
}

/** The human summary: a few aligned lines. */
export function formatSummary(summary: Summary): string {
  const results = Object.entries(summary.results)
    .map(([result, n]) => `${result}: ${n}`)
    .join(", ");
  const ms = (value: number | null) => (value === null ? "n/a" : `${value} ms`);
  return [
    `Simulated NovaMed → ${summary.target}`,
    `  sent          ${summary.sent} (${summary.unique_events} events, ${summary.duplicates_sent} duplicates, ${summary.shuffled_lifecycles} lifecycles out of order)`,
    `  200s          ${summary.ok}/${summary.sent}`,
    `  retries       ${summary.retries}`,
    `  given up      ${summary.given_up}`,
    `  attempts      ${summary.attempts}${results ? ` (${results})` : ""}`,
    `  latency       p50 ${ms(summary.latency_ms.p50)} · p99 ${ms(summary.latency_ms.p99)}`,
    `  replay        the same flags plus --seed ${summary.seed} --start-time ${summary.start_time}`,
  ].join("\n");
}

/** The one-line progress report printed on stderr about once a second. */
export function progressLine(stats: SendStats, elapsedMs: number): string {
  return (
    `simulate: ${Math.round(elapsedMs / 1000)}s · sent ${stats.started}/${stats.planned} · ok ${stats.delivered}` +
    ` · retries ${stats.retries} · waiting to retry ${stats.waiting} · given up ${stats.givenUp}`
  );
}
