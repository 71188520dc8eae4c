/**
 * The benchmark's outputs: bench/results/latest.json (the issue's shape plus extra fields) and the
 * table printed at the end, with every target marked met or missed. A missed target is a finding,
 * not a harness failure, so nothing here affects the exit code.
 */
import { cpus, totalmem } from "node:os";
import type { AckResult } from "./ack.ts";
import type { AppFigures, ReceiverAppFigures } from "./app-cost.ts";
import type { CostResult } from "./cost.ts";
import type { ForwardingOutageResult, ForwardingResult } from "./forwarding.ts";
import type { LifetimeResult } from "./lifetime.ts";
import type { OutageResult } from "./outage.ts";
import type { PipelineResult } from "./pipeline.ts";
import type { FloorResult, PipelineRound, WithoutSender } from "./pipeline-floor.ts";
import type { StartupResult } from "./startup.ts";
import type { StorageResult } from "./storage.ts";

export interface Results {
  machine: string;
  date: string;
  /** In-process cost of the receiver's code and of a bare Hono app; `error` when the part failed. */
  app: { receiver: ReceiverAppFigures | null; hono_floor: AppFigures | null; error?: string };
  startup: StartupResult | null;
  ack: {
    enqueue_floor: AckResult | null;
    receiver: AckResult | null;
    empty_worker: AckResult | null;
    express_reference: AckResult | null;
  };
  pipeline:
    | (PipelineResult & {
        storage: StorageResult | null;
        /** The pipeline floor (bench/pipeline-floor/) on the same stream in the same run. */
        floor: FloorResult;
        /** Full pipeline events/s ÷ the floor's; goal ≥ 0.5. */
        vs_floor: number | null;
        /**
         * The same ratio up to the moment every event was final, before the sender's drain: which of
         * the two paths (events or notifications) holds the pipeline back.
         */
        vs_floor_events_final: number | null;
        /** workerd CPU ms per event by stage (the cost ledger's split). */
        cpu_ms_per_event_by_stage: Record<string, number> | null;
        /** The same stream on a runtime without the sender (bench/pipeline-floor.ts, `withoutSenderFigures`). */
        without_sender: WithoutSender;
        /** Every round of a `--repeat` run (the median one stands for it); absent for one round. */
        rounds?: PipelineRound[];
        /** The daily cron over the pass's D1 through an event's life (bench/lifetime.ts): the `crons` stage. */
        lifetime: LifetimeResult | null;
      })
    | null;
  /** What a million events cost, from the pipeline pass (bench/cost.ts). */
  cost: CostResult | null;
  faults: (PipelineResult & { rate: number }) | null;
  outage: OutageResult | null;
  /** The forwarding pass (bench/forwarding.ts) and its 72 h endpoint outage. */
  forwarding:
    | (ForwardingResult & {
        /** changes/s ÷ the pipeline floor's events/s, when the pipeline part ran in the same run. */
        vs_pipeline_floor: number | null;
        outage: ForwardingOutageResult;
      })
    | null;
  targets: Target[];
  settings: Record<string, unknown>;
}

/** One target from the issue, evaluated on this run; `met` is null when its part did not run. */
export interface Target {
  name: string;
  value: string;
  met: boolean | null;
}

/** "CPU model, N cores, M GiB", as the issue asks. */
export function machineDescription(): string {
  const list = cpus();
  return `${list[0]?.model.trim() ?? "unknown CPU"}, ${list.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB`;
}

const fmt = (value: number | null | undefined, digits = 0) =>
  value === null || value === undefined || Number.isNaN(value)
    ? "n/a"
    : value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** D1 rows written per event at the first cost measurement (issue 26.2's baseline, bench/README.md). */
export const FIRST_ROWS_WRITTEN_PER_EVENT = 31.93;

/** Evaluates the issue's goals against what ran. */
export function evaluateTargets(results: Omit<Results, "targets">): Target[] {
  const targets: Target[] = [];
  const add = (name: string, value: string | null, met: boolean | null) =>
    targets.push({ name, value: value ?? "n/a", met: value === null ? null : met });
  const { receiver, enqueue_floor: floor } = results.ack;
  const vsFloor = receiver && floor ? receiver.rps / floor.rps : null;
  add(
    "receiver ≥ 0.8× enqueue floor req/s (64 connections)",
    vsFloor === null ? null : `${fmt(vsFloor, 2)}× (${fmt(receiver!.rps)} vs ${fmt(floor!.rps)})`,
    vsFloor !== null && vsFloor >= 0.8 && receiver!.errors === 0,
  );
  const mine = results.app.receiver;
  add(
    "edge CPU in-process ≤ 0.08 ms/req (≤ 6× bare Hono)",
    mine ? `${fmt(mine.cpu_ms_per_request, 3)} ms, ${fmt(mine.x_floor, 1)}× floor` : null,
    mine !== null && mine.cpu_ms_per_request <= 0.08,
  );
  const pipeline = results.pipeline;
  add(
    "pipeline end to end ≥ 1,000 events/s (20 % duplicates)",
    pipeline ? `${fmt(pipeline.events_per_s)} events/s` : null,
    pipeline !== null && pipeline.events_per_s >= 1000,
  );
  add(
    "pipeline ≥ 0.5× the pipeline floor's events/s",
    pipeline
      ? `${fmt(pipeline.vs_floor, 2)}× (${fmt(pipeline.events_per_s)} vs ${fmt(pipeline.floor.events_per_s)} events/s; workerd CPU ${fmt(pipeline.server_cpu_ms_per_event, 3)} vs ${fmt(pipeline.floor.cpu_ms_per_event, 3)} ms/event); without the sender ${fmt(pipeline.without_sender?.vs_floor ?? null, 2)}×`
      : null,
    pipeline !== null && pipeline.vs_floor !== null && pipeline.vs_floor >= 0.5,
  );
  add(
    "cost ≤ $10 per million events (list price, marginal)",
    results.cost
      ? `$${fmt(results.cost.usd_per_million_events, 2)} (the crons' share $${fmt(results.cost.by_stage.crons?.usd_per_million_events ?? 0, 2)}); D1 rows written ${fmt(results.cost.d1_rows_written_per_event, 2)}/event`
      : null,
    results.cost !== null && results.cost.usd_per_million_events <= 10,
  );
  add(
    `D1 rows written in the pipeline ≤ ${fmt(FIRST_ROWS_WRITTEN_PER_EVENT / 2, 2)}/event (half the first measurement, ${FIRST_ROWS_WRITTEN_PER_EVENT}, which had no crons)`,
    results.cost
      ? `${fmt(results.cost.d1_rows_written_per_event_in_pipeline, 2)}/event (${fmt(results.cost.d1_rows_written_per_event, 2)} with the crons)`
      : null,
    results.cost !== null && results.cost.d1_rows_written_per_event_in_pipeline <= FIRST_ROWS_WRITTEN_PER_EVENT / 2,
  );
  const busiest = pipeline?.storage?.steady_state.by_volume["100000"]?.with_budget ?? null;
  add(
    "D1 ≤ 2 GB at steady state, 100,000 events a day (default settings, the event index kept with its shelf)",
    busiest
      ? `${fmt(busiest.gb, 2)} GB, ${busiest.days_in_d1} days of history in D1${busiest.index_gb === null ? "" : `, event index ${fmt(busiest.index_gb, 2)} GB`}`
      : null,
    busiest?.within_2gb === true,
  );
  add(
    "consumer alone ≥ 2,500 events/s",
    pipeline ? `${fmt(pipeline.consumer_events_per_s)} events/s` : null,
    pipeline !== null && pipeline.consumer_events_per_s >= 2500,
  );
  add(
    "D1 round trips per batch ≤ 3",
    pipeline ? `avg ${fmt(pipeline.d1_round_trips_per_batch, 2)}, max ${pipeline.d1_round_trips_max}` : null,
    pipeline !== null && pipeline.d1_round_trips_max <= 3,
  );
  for (const [label, part] of [
    ["pipeline", pipeline],
    ["faults", results.faults],
  ] as const) {
    add(
      `${label}: lost 0, applied twice 0`,
      part
        ? [
            `lost ${part.lost}, double_applied ${part.double_applied}${part.drained ? "" : " (not drained)"}`,
            label === "faults" && `retried ${part.retried}`,
            part.notifications_sent_more_than_once > 0 &&
              `accepted messages no row records: ${part.notifications_sent_more_than_once} (with a recorded identical twin: ${part.providers.unrecorded_with_recorded_twin}; ids recorded by two rows: ${part.providers.provider_ids_recorded_twice})`,
            part.retried_events_not_processed > 0 && `${part.retried_events_not_processed} retried not processed`,
            part.lifecycles_wrong_state > 0 &&
              `${part.lifecycles_wrong_state} of ${part.lifecycles_checked} entities in another state`,
          ]
            .filter(Boolean)
            .join(", ")
        : null,
      part !== null &&
        part.lost === 0 &&
        part.double_applied === 0 &&
        part.drained &&
        part.retried_events_not_processed === 0 &&
        part.lifecycles_wrong_state === 0,
    );
  }
  const outage = results.outage;
  add(
    "outage: lost 0, applied twice 0 after recovery",
    outage
      ? `lost ${outage.lost} (${outage.lost_after_replay_of_dead} after replaying dead; ${outage.large_lost} of ${outage.large_events} near 64 KiB), double_applied ${outage.double_applied}`
      : null,
    outage !== null && outage.lost === 0 && outage.double_applied === 0,
  );
  const forwarding = results.forwarding ?? null;
  add(
    "forwarding: lost 0, signature failures 0 (endpoint 50–200 ms, 10 % refused)",
    forwarding
      ? `lost ${forwarding.lost} of ${fmt(forwarding.changes)} changes, ${fmt(forwarding.duplicates_delivered)} delivered more than once, signature failures ${forwarding.signature_failures}${forwarding.drained ? "" : " (not drained)"}`
      : null,
    forwarding !== null && forwarding.lost === 0 && forwarding.signature_failures === 0 && forwarding.unknown_ids === 0,
  );
  add(
    "forwarding ≥ 500 changes/s end to end",
    forwarding
      ? `${fmt(forwarding.changes_per_s)} changes/s (first delivery after ${fmt(forwarding.first_delivery_s, 1)} s; ${fmt(forwarding.delivery_changes_per_s)}/s from then)${forwarding.vs_pipeline_floor === null ? "" : `; ${fmt(forwarding.vs_pipeline_floor, 2)}× the pipeline floor`}`
      : null,
    forwarding !== null && forwarding.changes_per_s >= 500,
  );
  const endpointOutage = forwarding?.outage ?? null;
  add(
    "forwarding: nothing lost across the endpoint's outage (72 h)",
    endpointOutage
      ? `${endpointOutage.outage_hours} h: lost ${endpointOutage.lost} of ${fmt(endpointOutage.changes)}, rows failed ${endpointOutage.rows_failed}, all delivered ${fmt(endpointOutage.hours_from_recovery_to_all_delivered, 1)} h after recovery`
      : null,
    endpointOutage !== null &&
      endpointOutage.lost === 0 &&
      endpointOutage.rows_failed === 0 &&
      endpointOutage.signature_failures === 0,
  );
  const startup = results.startup;
  add(
    "bundle ≤ 64 KiB gzip",
    startup
      ? `${fmt(startup.bundle_gzip_kib, 1)} KiB (zod/mini bound ${fmt(startup.zod_mini_bound_gzip_kib, 1)})`
      : null,
    startup !== null && startup.bundle_gzip_kib <= 64,
  );
  add(
    "startup CPU ≤ 10 ms locally",
    startup ? `${fmt(startup.startup_cpu_ms, 1)} ms` : null,
    startup !== null && startup.startup_cpu_ms <= 10,
  );
  return targets;
}

/** The cost section: per event by stage, priced per million events (bench/cost.ts). */
function costTable(cost: CostResult): string[] {
  const stages = Object.entries(cost.by_stage);
  return [
    `Cost per event by stage (list prices of ${cost.prices_date}, marginal; ${fmt(cost.events)} events)`,
    table(
      [
        "stage",
        "invocations",
        "CPU ms",
        "D1 SQL ms",
        "D1 rows written (rule)",
        "D1 rows read",
        "queue ops",
        "$/M events",
      ],
      [
        ...stages.map(([stage, figures]) => [
          stage,
          fmt(figures.invocations_per_event, 3),
          fmt(figures.cpu_ms_per_event, 3),
          fmt(figures.d1_sql_ms_per_event, 3),
          `${fmt(figures.d1_rows_written_per_event, 2)} (${fmt(figures.d1_rows_written_by_rule_per_event, 2)})`,
          fmt(figures.d1_rows_read_per_event, 1),
          fmt(figures.queue_operations_per_event, 2),
          fmt(figures.usd_per_million_events, 2),
        ]),
        [
          "total",
          fmt(cost.worker_invocations_per_event, 3),
          fmt(cost.cpu_ms_per_event, 3),
          fmt(cost.d1_sql_ms_per_event, 3),
          fmt(cost.d1_rows_written_per_event, 2),
          fmt(cost.d1_rows_read_per_event, 1),
          fmt(cost.queue_operations_per_event, 2),
          fmt(cost.usd_per_million_events, 2),
        ],
      ],
    ),
    `Workers Logs (in the price): ${fmt(cost.workers_logs.log_events_per_event, 2)} log events per event, ${fmt(cost.workers_logs.invocation_logs_per_event, 2)} invocation logs and ${fmt(cost.workers_logs.lines_per_event, 2)} lines (${cost.workers_logs.lines_by_message
      .slice(0, 4)
      .map(({ message, per_event }) => `${message} ${fmt(per_event, 2)}`)
      .join(", ")}), $${fmt(cost.by_item.workers_logs, 2)} per million events`,
    `R2 (the archive, in the price): ${fmt(cost.r2_operations_per_event, 4)} operations per event, $${fmt(cost.by_item.r2_operations, 3)} per million events`,
    `storage: $${fmt(cost.storage_usd_per_million_events_month ?? Number.NaN, 2)} per million events per month kept; provider fees beside (not in) the price: ${fmt(cost.provider_fees.sms_per_event, 3)} SMS and ${fmt(cost.provider_fees.emails_per_event, 3)} emails per event, $${fmt(cost.provider_fees.usd_per_million_events)} per million events`,
  ];
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, index) => Math.max(cell.length, ...rows.map((row) => row[index]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, index) => (index === 0 ? cell.padEnd(widths[index]!) : cell.padStart(widths[index]!))).join("  ");
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)].join("\n");
}

/**
 * Where the receiver's ACK CPU goes, when both the app and the ACK part ran: its own code (in-process)
 * against the server's CPU per request under wrangler dev, and the empty Worker's (the runtime alone).
 */
function notes(results: Results): string[] {
  const mine = results.app.receiver;
  const served = results.ack.receiver?.cpu_ms_per_request;
  if (!mine || served === null || served === undefined) return [];
  const empty = results.ack.enqueue_floor?.cpu_ms_per_request;
  return [
    "Notes",
    `- The receiver's own code costs ${fmt(mine.cpu_ms_per_request, 3)} CPU ms per request in-process; on workerd its server`,
    `  burns ${fmt(served, 2)} ms per request (${fmt((100 * mine.cpu_ms_per_request) / served, 1)} % of it is the code)` +
      (empty === null || empty === undefined
        ? "."
        : `, the enqueue floor ${fmt(empty, 2)} ms. The rest is the local runtime.`),
    "",
  ];
}

const others = (figures: AppFigures) =>
  figures.machine_busy_other === null ? "n/a" : `${fmt(figures.machine_busy_other * 100)} %`;

/** The human-readable summary printed on stdout at the end. */
export function renderTable(results: Results): string {
  const settings = results.settings as { connections: number; duration_s: number; warmup_s: number };
  const out: string[] = [`NovaMed receiver benchmark · ${results.machine} · ${results.date}`, ""];
  const { receiver: mine, hono_floor: floor, error } = results.app;
  if (error) out.push(`App (in-process): FAILED: ${error}`, "");
  else if (mine && floor) {
    out.push("App: app.fetch in this process, sequential, mocked bindings (no runtime, no server)");
    out.push(
      table(
        ["app", "requests", "ms/req", "CPU ms/req", "× floor", "others busy"],
        [
          [
            "receiver (POST /webhooks/novamed)",
            fmt(mine.requests),
            fmt(mine.ms_per_request, 3),
            fmt(mine.cpu_ms_per_request, 3),
            fmt(mine.x_floor, 1),
            others(mine),
          ],
          [
            "bare Hono (floor)",
            fmt(floor.requests),
            fmt(floor.ms_per_request, 3),
            fmt(floor.cpu_ms_per_request, 3),
            "1.0",
            others(floor),
          ],
        ],
      ),
      "",
    );
  }
  const ackRows = (
    [
      ["enqueue floor", results.ack.enqueue_floor],
      ["receiver", results.ack.receiver],
      ["empty Worker", results.ack.empty_worker],
      ["Express reference", results.ack.express_reference],
    ] as const
  )
    .filter(([, ack]) => ack !== null)
    .map(([name, ack]) => [
      name,
      fmt(ack!.rps),
      fmt(ack!.p50_ms, 1),
      fmt(ack!.p99_ms, 1),
      fmt(ack!.errors),
      fmt(ack!.cpu_ms_per_request, 2),
      fmt(ack!.load_generator_cpu_ms_per_request, 2),
      ack!.machine_busy === null
        ? "n/a"
        : `${fmt(ack!.machine_busy * 100)} % (${fmt((ack!.machine_busy_other ?? 0) * 100)} %)`,
    ]);
  if (ackRows.length > 0) {
    out.push(
      `ACK path: ${settings.connections} connections, ${settings.duration_s} s each after a ${settings.warmup_s} s warm-up`,
    );
    out.push(
      table(
        [
          "server",
          "req/s",
          "p50 ms",
          "p99 ms",
          "errors",
          "server CPU ms/req",
          "load-gen CPU ms/req",
          "2 cores busy (others)",
        ],
        ackRows,
      ),
      "",
    );
  }
  const parts = (
    [
      ["pipeline", results.pipeline],
      ["faults", results.faults],
    ] as const
  ).filter(([, part]) => part !== null);
  if (parts.length > 0) {
    out.push("Pipeline: edge → local queue → consumer → D1 → sender, until drained");
    out.push(
      table(
        [
          "pass",
          "deliveries",
          "dups",
          "seconds",
          "events/s",
          "lost",
          "double",
          "D1 trips/batch",
          "max",
          "retried",
          "batches",
          "drained",
        ],
        parts.map(([name, part]) => [
          name === "faults" ? `faults ${results.faults!.rate}` : name,
          fmt(part!.events),
          fmt(part!.duplicates),
          fmt(part!.seconds, 1),
          fmt(part!.events_per_s),
          fmt(part!.lost),
          fmt(part!.double_applied),
          fmt(part!.d1_round_trips_per_batch, 2),
          fmt(part!.d1_round_trips_max),
          fmt(part!.retried),
          fmt(part!.batches),
          part!.drained ? "yes" : "NO",
        ]),
      ),
      "",
    );
  }
  if (results.cost) out.push(...costTable(results.cost), "");
  out.push(...notes(results), "Targets");
  out.push(
    table(
      ["target", "this run", "result"],
      results.targets.map((target) => [
        target.name,
        target.value,
        target.met === null ? "not run" : target.met ? "met" : "MISSED",
      ]),
    ),
  );
  return out.join("\n");
}
