import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { getPatient } from "../../src/db/patients";
import worker from "../../src/index";
import { D1_QUERY_BUDGET } from "../../src/queue/events-consumer";
import { CRONS } from "../../src/scheduled/dispatch";
import { PURGE_CHUNK_ROWS, PURGE_MAX_CHUNKS } from "../../src/scheduled/retention";
import { TEST_NOW } from "../helpers/clock";
import { wrapDatabase } from "../helpers/d1";
import { ADMIN_TOKEN, CLINIC_ID, makeEvent, uniqueId } from "../helpers/events";
import { countingDatabase, EVENTS_QUEUE, eventMessage, eventRow, runBatch, withBatchHook } from "../helpers/queue";

/**
 * D1 allows 1,000 queries per Worker invocation, each statement of a `db.batch` counted. These tests
 * count them (test/helpers/queue.ts `countingDatabase`) on the heaviest paths and hold each one well
 * under the limit.
 */
const WELL_UNDER_THE_LIMIT = 700;

/** 100 events of the types that write the most (entity facts and one outbox row per channel). */
function heavyBatch() {
  return Array.from({ length: 100 }, (_, index) =>
    eventMessage(
      makeEvent(["order:shipped", "order:delivered", "medication_request:approved", "refill:denied"][index % 4] ?? "", {
        data: {
          order_id: uniqueId("ord"),
          medication_request_id: uniqueId("mr"),
          refill_id: uniqueId("rf"),
          patient_id: uniqueId("pat"),
        },
      }),
    ),
  );
}

describe("D1 queries per invocation", () => {
  it.each([
    { failure: "the combined commit fails", hook: (batch: number) => batch === 1 && "fail" },
    { failure: "the combined commit's answer is lost", hook: (batch: number) => batch === 1 && "lose-answer" },
    { failure: "every commit fails", hook: (batch: number) => batch >= 1 && "fail" },
  ])("a batch of 100 events through the one-by-one fallback stays under the budget when $failure", async ({ hook }) => {
    vi.spyOn(env.NOTIFICATIONS, "sendBatch").mockResolvedValue(undefined as never);
    const messages = heavyBatch();
    const failing = withBatchHook(env.DB, (batch) => {
      const mode = hook(batch);
      if (mode === "fail") throw new Error("D1_ERROR: statement too long");
      return mode || undefined;
    });
    const counting = countingDatabase(failing);
    const result = await runBatch(EVENTS_QUEUE, messages, { ...env, DB: counting.db });
    expect(counting.queries()).toBeLessThanOrEqual(D1_QUERY_BUDGET);
    expect(D1_QUERY_BUDGET).toBeLessThanOrEqual(WELL_UNDER_THE_LIMIT);
    // Nothing dropped: what the budget left out is retried, and its redelivery applies it once.
    expect(result.explicitAcks.length + result.retryMessages.length).toBe(messages.length);
    const retried = new Set(result.retryMessages.map((retry) => retry.msgId));
    const again = await runBatch(
      EVENTS_QUEUE,
      messages.filter((message) => retried.has(message.id)).map((message) => ({ ...message, attempts: 2 })),
    );
    expect(again.retryMessages).toEqual([]);
    for (const message of messages) {
      const { envelope } = message.body as { envelope: { event_id: string } };
      expect(await eventRow(envelope.event_id)).toMatchObject({ status: "processed", applications: 1 });
    }
  });

  it("a 1,000-row patient CSV import", async () => {
    const ids = Array.from({ length: 1000 }, () => uniqueId("pat"));
    const csv = [
      "patient_id,phone,email,timezone,sms_opt_in,email_opt_in",
      ...ids.map((id, index) => `${id},+1415555${String(index).padStart(4, "0")},,America/New_York,true,false`),
    ].join("\n");
    const counting = countingDatabase(env.DB);
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request("https://receiver.test/admin/patients/import", {
        method: "POST",
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          "content-type": "text/csv",
          "cf-connecting-ip": "198.18.0.9",
        },
        body: csv,
      }),
      { ...env, DB: counting.db },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(await response.json()).toMatchObject({ imported: 1000, failed: 0 });
    expect(counting.queries()).toBeLessThanOrEqual(10);
    expect(await getPatient(env.DB, { clinicId: CLINIC_ID, withUnassigned: true }, ids[999] ?? "")).toMatchObject({
      phone: "+14155550999",
      sms_opt_in: true,
    });
  });

  it("the daily retention and compaction run, with every chunk full up to each job's cap", async () => {
    const counting = countingDatabase(fullBacklog(env.DB));
    await worker.scheduled(createScheduledController({ scheduledTime: new Date(TEST_NOW), cron: CRONS.retention }), {
      ...env,
      DB: counting.db,
      PAYLOAD_RETENTION_DAYS: "30",
      AUDIT_RETENTION_DAYS: "2190",
      EVENT_ROW_RETENTION_DAYS: "90",
    });
    // Every purge ran to its cap: payloads, rendered bodies, three entity kinds, audit, two compactions.
    expect(counting.queries()).toBeGreaterThanOrEqual(8 * PURGE_MAX_CHUNKS);
    expect(counting.queries()).toBeLessThanOrEqual(WELL_UNDER_THE_LIMIT);
  });

  it("the 5-minute cron: stuck-event sweep, notification sweep and lifecycle watch", async () => {
    vi.spyOn(env.EVENTS, "sendBatch").mockResolvedValue(undefined as never);
    vi.spyOn(env.NOTIFICATIONS, "sendBatch").mockResolvedValue(undefined as never);
    const counting = countingDatabase(env.DB);
    await worker.scheduled(
      createScheduledController({ scheduledTime: new Date(TEST_NOW + 86_400_000), cron: CRONS.notificationSweep }),
      { ...env, DB: counting.db },
    );
    expect(counting.queries()).toBeGreaterThan(0);
    expect(counting.queries()).toBeLessThanOrEqual(WELL_UNDER_THE_LIMIT);
  });
});

/**
 * A D1 binding whose every `run()` reports a full chunk changed, as a backlog larger than a run can
 * finish would: each chunked job goes on to its cap.
 */
function fullBacklog(db: D1Database): D1Database {
  const wrapStatement = (statement: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(statement, {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (property === "bind") return (...args: unknown[]) => wrapStatement(value.apply(target, args));
        if (property === "run") {
          return async () => {
            const result = await target.run();
            return { ...result, meta: { ...result.meta, changes: PURGE_CHUNK_ROWS } };
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return wrapDatabase(db, { prepare: (sql, prepare) => wrapStatement(prepare(sql)) });
}
