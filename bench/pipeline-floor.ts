/**
 * Drives the pipeline floor (bench/pipeline-floor/index.ts) with the pipeline pass's own stream (the
 * same plan: same seed and label, same concurrency), until every accepted event is a row in D1, and
 * measures its events/s and workerd CPU per event. The pipeline part reports the full pipeline's
 * events/s as a ratio to this (`pipeline.vs_floor`).
 */
import { DEFAULT_CLINIC_ID, SEEDED_START_TIME } from "../tools/simulator/args.ts";
import { buildPlan } from "../tools/simulator/generator.ts";
import { pool } from "./pipeline.ts";
import { cpuDelta, treeCpu } from "./proc.ts";
import type { RuntimeServer } from "./runtime.ts";

export interface FloorResult {
  events: number;
  accepted: number;
  seconds: number;
  events_per_s: number;
  cpu_ms_per_event: number | null;
  drained: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Full pipeline events/s over the floor's; null when either is missing. */
export function vsFloor(pipelineEventsPerS: number | null, floorEventsPerS: number | null): number | null {
  if (!pipelineEventsPerS || !floorEventsPerS) return null;
  return round(pipelineEventsPerS / floorEventsPerS, 2);
}

/** The pipeline's stream replayed without the sender, beside the full pass and the floor. */
export interface WithoutSender {
  events_per_s: number;
  /** workerd CPU ms per event of the edge and the events consumer alone. */
  cpu_ms_per_event: number | null;
  /** Its events/s over the floor's. */
  vs_floor: number | null;
  /** The full pass's workerd CPU per event minus this pass's: what the sender adds (same stream, same run). */
  sender_cpu_ms_per_event: number | null;
  drained: boolean;
}

/** What the pass without the sender says, given the full pass (`full`) and the floor of the same run. */
export function withoutSenderFigures(
  full: { server_cpu_ms_per_event: number | null },
  alone: { events_per_s: number; server_cpu_ms_per_event: number | null; drained: boolean },
  floor: FloorResult,
): WithoutSender {
  const sender =
    full.server_cpu_ms_per_event !== null && alone.server_cpu_ms_per_event !== null && alone.drained
      ? round(full.server_cpu_ms_per_event - alone.server_cpu_ms_per_event, 3)
      : null;
  return {
    events_per_s: alone.events_per_s,
    cpu_ms_per_event: alone.server_cpu_ms_per_event,
    vs_floor: alone.drained ? vsFloor(alone.events_per_s, floor.drained ? floor.events_per_s : null) : null,
    sender_cpu_ms_per_event: sender,
    drained: alone.drained,
  };
}

/** One round of the pipeline part (`--repeat`): the floor, the pipeline and the pass without the sender. */
export interface PipelineRound {
  vs_floor: number | null;
  events_per_s: number;
  floor_events_per_s: number;
  server_cpu_ms_per_event: number | null;
  floor_cpu_ms_per_event: number | null;
  without_sender_vs_floor: number | null;
  sender_cpu_ms_per_event: number | null;
  lost: number;
  double_applied: number;
}

/**
 * The round that stands for a run of several: the one whose ratio to its floor is the median (the
 * lower middle of an even count; a round without a ratio sorts first), so every figure reported
 * comes from one round.
 */
export function medianRound<T>(rounds: readonly T[], ratio: (round: T) => number | null): T {
  if (rounds.length === 0) throw new Error("no rounds");
  const sorted = [...rounds].sort((a, b) => (ratio(a) ?? -1) - (ratio(b) ?? -1));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export async function runPipelineFloor(
  server: RuntimeServer,
  options: { events: number; seed: number; label: string; concurrency: number; drainTimeoutS: number },
): Promise<FloorResult> {
  const plan = buildPlan({
    count: options.events,
    duplicateRate: 0.2,
    outOfOrderRate: 0.2,
    seed: `${options.label}-${options.seed}`,
    clinicId: DEFAULT_CLINIC_ID,
    startTime: Date.parse(SEEDED_START_TIME),
    patientIds: Array.from({ length: 100 }, (_, index) => `pat_bench_${index}`),
  });
  const db = await server.mf.getD1Database("DB");
  const accepted = new Set<string>();
  const cpuBefore = treeCpu(server.pid);
  const started = performance.now();
  await pool(plan.sends, options.concurrency, Number.POSITIVE_INFINITY, async (delivery) => {
    for (let attempt = 1; attempt <= 4; attempt++) {
      const response = await fetch(`${server.url}/webhooks/novamed`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: delivery.body,
        signal: AbortSignal.timeout(10_000),
      }).catch(() => null);
      await response?.arrayBuffer();
      if (response?.status === 200) {
        accepted.add(delivery.envelope.event_id);
        return;
      }
      await sleep(250);
    }
  });
  const deadline = Date.now() + options.drainTimeoutS * 1000;
  let drainedAt: number | null = null;
  while (Date.now() < deadline) {
    const row = await db
      .prepare("SELECT count(*) AS n FROM floor_events")
      .first<{ n: number }>()
      .catch(() => null);
    if ((row?.n ?? 0) >= accepted.size) {
      drainedAt = performance.now();
      break;
    }
    await sleep(100);
  }
  const cpu = cpuDelta(cpuBefore, treeCpu(server.pid)).totalMs;
  const seconds = ((drainedAt ?? performance.now()) - started) / 1000;
  return {
    events: plan.sends.length,
    accepted: accepted.size,
    seconds: round(seconds),
    events_per_s: round(accepted.size / seconds, 0),
    cpu_ms_per_event: cpu > 0 ? round(cpu / Math.max(1, accepted.size), 3) : null,
    drained: drainedAt !== null,
  };
}
