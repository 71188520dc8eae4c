import { describe, expect, it } from "vitest";
import { addLedgers, countingBucket, emptyLedger, recordResult, type StageLedger } from "../../bench/batch-record.ts";
import {
  addCounts,
  billedRowsWritten,
  computeCost,
  logLineKey,
  logLinesBetween,
  parseWrite,
  priceOf,
  storageUsdPerMillionEventsMonth,
} from "../../bench/cost.ts";
import { medianRound, vsFloor, withoutSenderFigures } from "../../bench/pipeline-floor.ts";

const ledger = (overrides: Partial<StageLedger>): StageLedger => ({ ...emptyLedger(), ...overrides });

describe("bench: pricing (bench/cost.ts)", () => {
  it("prices each item at the marginal Workers Paid list price", () => {
    const { items, total } = priceOf({
      requests: 1e6,
      cpu_ms: 1e6,
      queue_operations: 1e6,
      rows_written: 1e6,
      rows_read: 1e6,
      log_events: 1e6,
    });
    expect(items.worker_requests).toBeCloseTo(0.3, 10);
    expect(items.worker_cpu).toBeCloseTo(0.02, 10);
    expect(items.queues).toBeCloseTo(0.4, 10);
    expect(items.d1_rows_written).toBeCloseTo(1, 10);
    expect(items.d1_rows_read).toBeCloseTo(0.001, 10);
    expect(items.workers_logs).toBeCloseTo(0.6, 10);
    expect(total).toBeCloseTo(2.321, 10);
    expect(storageUsdPerMillionEventsMonth(2000)).toBe(1.5); // 2 GB at $0.75/GB-month
  });

  it("counts rows written as D1 bills them: each row changed plus each index the write touches", () => {
    const indexes = { events: [["event_id"], ["status", "received_at"], ["clinic_id"]] };
    const figures = { calls: 2, changes: 2, rows_read: 0, rows_written: 0 };
    expect(billedRowsWritten("INSERT INTO events (event_id) VALUES (?1)", figures, indexes)).toBe(8);
    expect(billedRowsWritten("DELETE FROM events WHERE event_id = ?1", figures, indexes)).toBe(8);
    expect(
      billedRowsWritten("UPDATE events SET status = ?2, payload = NULL WHERE event_id = ?1", figures, indexes),
    ).toBe(4);
    expect(billedRowsWritten("UPDATE events SET payload = NULL WHERE event_id = ?1", figures, indexes)).toBe(2);
    expect(billedRowsWritten("SELECT * FROM events", figures, indexes)).toBe(0);
    expect(billedRowsWritten("INSERT INTO events (event_id) VALUES (?1)", { ...figures, changes: 0 }, indexes)).toBe(0);
    expect(parseWrite("UPDATE  notifications SET a = COALESCE(a, ?1), b=?2 WHERE c = 1")).toEqual({
      kind: "update",
      table: "notifications",
      columns: ["a", "b"],
    });
  });

  it("sums the stages per event, counts queue chunks as operations and splits CPU by invocation time", () => {
    const cost = computeCost({
      ledgers: {
        edge: ledger({ invocations: 125, wall_ms: 100, queue_messages_sent: 125, queue_write_chunks: 125 }),
        events_consumer: ledger({
          invocations: 2,
          wall_ms: 300,
          rows_written: 1000,
          rows_read: 5000,
          sql_ms: 40,
          queue_deliveries: 130,
          queue_read_chunks: 130,
          queue_acks: 125,
          queue_delete_chunks: 125,
          queue_retries: 5,
        }),
      },
      events: 100,
      cpuMs: 400,
      indexes: {},
      bytesPerEvent: null,
      smsSent: 50,
      emailsSent: 0,
      logLines: { "request /webhooks/novamed": 125, "event batch": 2, "notification outcome": 40 },
    });
    expect(cost.d1_rows_written_per_event).toBe(10);
    expect(cost.d1_rows_read_per_event).toBe(50);
    expect(cost.queue_operations_per_event).toBe(3.8);
    expect(cost.worker_invocations_per_event).toBe(1.27);
    expect(cost.by_stage.edge?.cpu_ms_per_event).toBe(1);
    expect(cost.by_stage.events_consumer?.cpu_ms_per_event).toBe(3);
    // SQLite's own time (D1's meta.duration), apart from the isolate's: 40 ms over 100 events.
    expect(cost.by_stage.events_consumer?.d1_sql_ms_per_event).toBe(0.4);
    expect(cost.by_stage.edge?.d1_sql_ms_per_event).toBe(0);
    expect(cost.d1_sql_ms_per_event).toBe(0.4);
    // Workers Logs: an invocation log per invocation (1.27) and the Worker's lines (1.67), by message.
    expect(cost.workers_logs).toEqual({
      log_events_per_event: 2.94,
      invocation_logs_per_event: 1.27,
      lines_per_event: 1.67,
      lines_by_message: [
        { message: "request /webhooks/novamed", per_event: 1.25 },
        { message: "notification outcome", per_event: 0.4 },
        { message: "event batch", per_event: 0.02 },
      ],
    });
    expect(cost.by_item.workers_logs).toBeCloseTo(2.94 * 0.6, 3);
    // A stage carries its own invocation logs, not the lines (which name no invocation).
    expect(cost.by_stage.events_consumer?.usd_per_million_events).toBeCloseTo(
      0.02 * 0.3 + 3 * 0.02 + 2.55 * 0.4 + 10 * 1 + 50 * 0.001 + 0.02 * 0.6,
      3,
    );
    // per event: 1.27 requests, 4 CPU ms, 3.8 queue ops, 10 rows written, 50 rows read, 2.94 log events
    const expected = (1.27 * 0.3 + 4 * 0.02 + 3.8 * 0.4 + 10 * 1 + 50 * 0.001 + 2.94 * 0.6) / 1e6;
    expect(cost.usd_per_million_events).toBeCloseTo(expected * 1e6, 3);
    expect(cost.provider_fees.sms_per_event).toBe(0.5);
    expect(cost.storage_usd_per_million_events_month).toBeNull();
  });

  it("prices the lifetime crons with their own CPU, R2 operations, and keeps the pipeline's rows apart", () => {
    const cost = computeCost({
      ledgers: {
        edge: ledger({ invocations: 100, wall_ms: 100 }),
        events_consumer: ledger({ invocations: 1, wall_ms: 300, rows_written: 1000 }),
        // Measured apart: its wall time must not take a share of the pass's CPU.
        crons: ledger({ invocations: 2, wall_ms: 600, rows_written: 500, r2_class_a: 10, r2_class_b: 20 }),
      },
      events: 100,
      cpuMs: 400,
      stageCpuMs: { crons: 50 },
      indexes: {},
      bytesPerEvent: null,
      smsSent: 0,
      emailsSent: 0,
    });
    expect(cost.by_stage.edge?.cpu_ms_per_event).toBe(1);
    expect(cost.by_stage.events_consumer?.cpu_ms_per_event).toBe(3);
    expect(cost.by_stage.crons?.cpu_ms_per_event).toBe(0.5);
    expect(cost.cpu_ms_per_event).toBe(4.5);
    expect(cost.d1_rows_written_per_event).toBe(15);
    expect(cost.d1_rows_written_per_event_in_pipeline).toBe(10);
    expect(cost.by_stage.crons?.r2_operations_per_event).toBe(0.3);
    expect(cost.r2_operations_per_event).toBe(0.3);
    // R2: class A $4.50 and class B $0.36 a million.
    expect(cost.by_item.r2_operations).toBeCloseTo(((10 * 4.5 + 20 * 0.36) / 1e6 / 100) * 1e6, 6);
    expect(cost.by_stage.crons?.usd_per_million_events).toBeCloseTo(
      0.02 * 0.3 + 0.5 * 0.02 + 5 * 1 + 0.1 * 4.5 + 0.2 * 0.36 + 0.02 * 0.6,
      3,
    );
  });

  it("adds the pass's own cron runs and the lifetime's into one ledger, and tallies by key", () => {
    const pass = ledger({
      invocations: 1,
      rows_written: 4,
      statements: { "DELETE FROM t": { calls: 1, changes: 2, rows_read: 2, rows_written: 4 } },
    });
    const life = ledger({
      invocations: 3,
      rows_written: 6,
      r2_class_a: 2,
      statements: {
        "DELETE FROM t": { calls: 2, changes: 3, rows_read: 3, rows_written: 6 },
        "SELECT 1": { calls: 1, changes: 0, rows_read: 1, rows_written: 0 },
      },
    });
    const sum = addLedgers(pass, life);
    expect(sum).toMatchObject({ invocations: 4, rows_written: 10, r2_class_a: 2 });
    expect(sum.statements["DELETE FROM t"]).toEqual({ calls: 3, changes: 5, rows_read: 5, rows_written: 10 });
    expect(sum.statements["SELECT 1"]?.calls).toBe(1);
    expect(pass.statements["DELETE FROM t"]?.calls).toBe(1);
    expect(addCounts({ a: 1, b: 2 }, { b: 3, c: 4 })).toEqual({ a: 1, b: 5, c: 4 });
  });

  it("counts the archive bucket's operations by R2's billing class", async () => {
    const stage = emptyLedger();
    const calls: string[] = [];
    const fake = {
      name: "archive",
      put: async (key: string) => void calls.push(`put ${key}`),
      get: async (key: string) => {
        calls.push(`get ${key}`);
        return null;
      },
      head: async () => null,
      list: async () => ({ objects: [] }),
      delete: async () => undefined,
    };
    const bucket = countingBucket(fake, stage);
    await bucket.put("a");
    await bucket.list();
    expect(await bucket.get("a")).toBeNull();
    await bucket.head();
    await bucket.delete();
    expect(bucket.name).toBe("archive");
    expect(calls).toEqual(["put a", "get a"]);
    expect(stage).toMatchObject({ r2_class_a: 2, r2_class_b: 2 });
  });

  it("adds each statement's rows and SQL time from the runtime's meta to its stage", () => {
    const stage = emptyLedger();
    recordResult(stage, "INSERT INTO t\n  VALUES (1)", {
      meta: { rows_read: 1, rows_written: 3, changes: 1, duration: 0.25 },
    });
    recordResult(stage, "INSERT INTO t VALUES (1)", {
      meta: { rows_read: 0, rows_written: 3, changes: 1, duration: 0.5 },
    });
    recordResult(stage, "SELECT 1", null);
    expect(stage).toMatchObject({ d1_statements: 3, d1_statements_without_meta: 1, rows_written: 6, sql_ms: 0.75 });
    expect(stage.statements["INSERT INTO t VALUES (1)"]).toEqual({
      calls: 2,
      changes: 2,
      rows_read: 1,
      rows_written: 6,
    });
  });

  it("counts the Worker's log lines by message, a request line by its route, without the harness's own reads", () => {
    expect(logLineKey('{"level":"info","message":"request","route":"/webhooks/novamed","status":200}')).toBe(
      "request /webhooks/novamed",
    );
    expect(logLineKey('{"level":"info","message":"notification outcome","status":"sent"}')).toBe(
      "notification outcome",
    );
    expect(logLineKey('{"level":"info","status":"sent"}')).toBe("(no message)");
    expect(logLineKey("plain text")).toBe("(not JSON)");
    expect(
      logLinesBetween(
        { "request /webhooks/novamed": 10, "request /admin/patients/:patient_id": 100 },
        {
          "request /webhooks/novamed": 35,
          "request /admin/stats": 4,
          "request /__bench/ledger": 1,
          "event batch": 2,
          "request /admin/patients/:patient_id": 100,
        },
      ),
    ).toEqual({ "request /webhooks/novamed": 25, "event batch": 2 });
  });

  it("names the statements that read the most rows, per event", () => {
    const statements = {
      "SELECT a FROM t": { calls: 200, changes: 0, rows_read: 9000, rows_written: 0 },
      "SELECT b FROM u": { calls: 100, changes: 0, rows_read: 100, rows_written: 0 },
      "INSERT INTO v VALUES (1)": { calls: 100, changes: 100, rows_read: 0, rows_written: 300 },
    };
    const cost = computeCost({
      ledgers: {
        events_consumer: ledger({ invocations: 1, wall_ms: 1, rows_read: 9100, rows_written: 300, statements }),
      },
      events: 100,
      cpuMs: null,
      indexes: {},
      bytesPerEvent: null,
      smsSent: 0,
      emailsSent: 0,
    });
    expect(cost.top_reads).toEqual([
      { stage: "events_consumer", sql: "SELECT a FROM t", rows_read_per_event: 90, calls_per_event: 2 },
      { stage: "events_consumer", sql: "SELECT b FROM u", rows_read_per_event: 1, calls_per_event: 1 },
    ]);
  });

  it("reports the pipeline as a ratio to its floor", () => {
    expect(vsFloor(300, 600)).toBe(0.5);
    expect(vsFloor(300, null)).toBeNull();
  });

  it("lets the round with the median ratio stand for a run of several", () => {
    const rounds = [
      { id: "a", ratio: 0.4 },
      { id: "b", ratio: 0.34 },
      { id: "c", ratio: 0.33 },
    ];
    expect(medianRound(rounds, (round) => round.ratio).id).toBe("b");
    // An even count takes the lower middle; a round without a ratio sorts first.
    expect(medianRound([...rounds, { id: "d", ratio: null }], (round) => round.ratio).id).toBe("c");
    expect(medianRound([{ id: "only", ratio: null }], (round) => round.ratio).id).toBe("only");
    expect(() => medianRound([], () => 1)).toThrow();
  });

  it("measures the sender's CPU as the full pass's minus the pass without the sender", () => {
    const floor = { events: 2000, accepted: 1600, seconds: 4, events_per_s: 400, cpu_ms_per_event: 2, drained: true };
    expect(
      withoutSenderFigures(
        { server_cpu_ms_per_event: 5.5 },
        { events_per_s: 240, server_cpu_ms_per_event: 3.25, drained: true },
        floor,
      ),
    ).toEqual({
      events_per_s: 240,
      cpu_ms_per_event: 3.25,
      vs_floor: 0.6,
      sender_cpu_ms_per_event: 2.25,
      drained: true,
    });
    // A pass that did not drain measures nothing to subtract.
    expect(
      withoutSenderFigures(
        { server_cpu_ms_per_event: 5.5 },
        { events_per_s: 10, server_cpu_ms_per_event: 9, drained: false },
        floor,
      ),
    ).toMatchObject({ vs_floor: null, sender_cpu_ms_per_event: null });
  });
});
