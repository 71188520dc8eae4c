import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { ChangeListener } from "../../src/events/handlers";
import { consumeEvents } from "../../src/queue/events-consumer";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch, withBatchHook } from "../helpers/queue";

/**
 * The events consumer records each event and applies its effects in one `db.batch`, every effect
 * guarded by the attempt's token. These tests count how many times an event's effects actually
 * committed, through a listener whose statement is guarded like the real ones and inserts one row per
 * run: a row per event, whatever copies, races, lost answers and repeats came before.
 */

const RUNS_TABLE = "CREATE TABLE IF NOT EXISTS test_effect_runs (event_id TEXT NOT NULL, token TEXT NOT NULL)";

const counting: ChangeListener = {
  statements: (change, guard, db) => [
    db
      .prepare(
        `INSERT INTO test_effect_runs (event_id, token) SELECT ?1, ?2
WHERE EXISTS (SELECT 1 FROM events WHERE event_id = ?1 AND lease_owner = ?2)`,
      )
      .bind(change.write.eventId, guard.leaseOwner),
  ],
};

async function effectRuns(eventId: string): Promise<number> {
  const row = await env.DB.prepare(`SELECT COUNT(*) AS runs FROM test_effect_runs WHERE event_id = ?1`)
    .bind(eventId)
    .first<{ runs: number }>();
  return row?.runs ?? 0;
}

function consume(db: D1Database = env.DB) {
  return (messages: Parameters<typeof runBatch>[1]) =>
    runBatch(EVENTS_QUEUE, messages, { ...env, DB: db }, (batch, batchEnv) =>
      consumeEvents(batch, batchEnv, { listeners: [counting] }),
    );
}

const shipped = () => makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: uniqueId("pat") } });

beforeAll(async () => {
  await env.DB.prepare(RUNS_TABLE).run();
});

describe("an event's effects commit once", () => {
  it("with three copies in one batch and a redelivery in the next", async () => {
    const event = shipped();
    const first = await consume()([eventMessage(event), eventMessage(event), eventMessage(event)]);
    expect(first.explicitAcks).toHaveLength(3);
    await consume()([eventMessage(event, 2)]);
    expect(await effectRuns(event.event_id)).toBe(1);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });
  });

  it.each([
    ["the combined commit's answer is lost", [1]],
    ["the combined commit's and the first repeat's answers are lost", [1, 2]],
    ["every answer is lost", [1, 2, 3, 4, 5, 6, 7, 8]],
  ])("when %s, through the one-by-one repeats and the redeliveries", async (_, lost) => {
    const events = [shipped(), shipped(), shipped()];
    const db = withBatchHook(env.DB, (batch) => (lost.includes(batch) ? "lose-answer" : undefined));
    const result = await consume(db)(events.map((event) => eventMessage(event)));
    expect(result.explicitAcks.length + result.retryMessages.length).toBe(3);
    const retried = new Set(result.retryMessages.map((retry) => retry.msgId));
    expect(retried.size).toBe(result.retryMessages.length);
    await consume()(events.map((event) => eventMessage(event, 2)));
    for (const event of events) {
      expect(await effectRuns(event.event_id)).toBe(1);
      expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });
    }
  });

  it("when the combined commit fails outright: each event's own commit applies it", async () => {
    const events = [shipped(), shipped()];
    const db = withBatchHook(env.DB, (batch) => {
      if (batch === 1) throw new Error("D1_ERROR: network connection lost");
    });
    const result = await consume(db)(events.map((event) => eventMessage(event)));
    expect(result.explicitAcks).toHaveLength(2);
    for (const event of events) expect(await effectRuns(event.event_id)).toBe(1);
  });

  it("when another consumer commits the same events first", async () => {
    const events = [shipped(), shipped()];
    let other: Awaited<ReturnType<typeof runBatch>> | undefined;
    const db = withBatchHook(env.DB, async (batch) => {
      if (batch === 1) other = await consume()(events.map((event) => eventMessage(event)));
    });
    const ours = await consume(db)(events.map((event) => eventMessage(event)));
    expect(other?.explicitAcks).toHaveLength(2);
    expect(ours.explicitAcks).toHaveLength(2);
    for (const event of events) expect(await effectRuns(event.event_id)).toBe(1);
  });

  it("when the handler threw on the first delivery: none then, once on the retry", async () => {
    const event = shipped();
    let fail = true;
    const flaky: ChangeListener = {
      statements: () => {
        if (fail) throw new Error("handler bug");
        return [];
      },
    };
    const first = await runBatch(EVENTS_QUEUE, [eventMessage(event)], env, (batch, batchEnv) =>
      consumeEvents(batch, batchEnv, { listeners: [counting, flaky] }),
    );
    expect(first.retryMessages).toHaveLength(1);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "failed", applications: 0 });
    expect(await effectRuns(event.event_id)).toBe(0);
    fail = false;
    await runBatch(EVENTS_QUEUE, [eventMessage(event, 2)], env, (batch, batchEnv) =>
      consumeEvents(batch, batchEnv, { listeners: [counting, flaky] }),
    );
    expect(await effectRuns(event.event_id)).toBe(1);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });
  });

  it("when a batch's first copy conflicts with the stored event and a later copy matches it", async () => {
    const event = shipped();
    const other = { ...event, data: { ...event.data, tracking_number: "OTHER" } };
    // Stored `failed` (its handler threw), then a batch whose first copy has other content.
    await runBatch(EVENTS_QUEUE, [eventMessage(event)], env, (batch, batchEnv) =>
      consumeEvents(batch, batchEnv, {
        listeners: [
          {
            statements: () => {
              throw new Error("handler bug");
            },
          },
        ],
      }),
    );
    const mixed = await consume()([eventMessage(other, 2), eventMessage(event, 2)]);
    // The conflicting copy is acked and counted; the matching one comes back and applies it then.
    expect(mixed.explicitAcks).toHaveLength(1);
    expect(mixed.retryMessages).toHaveLength(1);
    expect(await effectRuns(event.event_id)).toBe(0);
    await consume()([eventMessage(event, 3)]);
    expect(await effectRuns(event.event_id)).toBe(1);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1, conflicts: 1 });
  });
});
