import type { MessageBatchMessage } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEAD_LETTER_MAX_RETRIES, DEAD_LETTER_RESPOOL_FROM_ATTEMPT } from "../../src/backoff";
import { getEntity } from "../../src/db/entities";
import { ALL_CLINICS } from "../../src/db/scope";
import { wrapDatabase } from "../helpers/d1";
import { makeEvent, uniqueId } from "../helpers/events";
import {
  EVENTS_DLQ,
  EVENTS_QUEUE,
  eventMessage,
  eventRow,
  limitedQueue,
  padding,
  runBatch,
  runDeadLetter,
  withBatchHook,
} from "../helpers/queue";

const MAIN_QUEUE_MAX_RETRIES = 10;

/** D1 as seen during an outage: every batch and every statement fails. */
function unreachableDatabase(): D1Database {
  const unavailable = () => {
    throw new Error("D1_ERROR: D1 is unavailable");
  };
  return wrapDatabase(env.DB, { prepare: unavailable, batch: unavailable });
}

/** A queue producer that records what it was asked to send. */
function recordingQueue(): { queue: Queue; sent: MessageSendRequest[] } {
  const sent: MessageSendRequest[] = [];
  const queue = {
    send: async (body: unknown, options?: QueueSendOptions) => {
      sent.push({ body, ...options });
    },
    sendBatch: async (messages: Iterable<MessageSendRequest>) => {
      sent.push(...messages);
    },
  } as unknown as Queue;
  return { queue, sent };
}

function withAttempts(message: MessageBatchMessage, attempts: number): MessageBatchMessage {
  return { ...message, id: uniqueId("msg"), attempts };
}

describe("a D1 outage across the whole retry schedule", () => {
  it("keeps an acknowledged event through every retry and applies it exactly once when D1 is back", async () => {
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord") } });
    const delivered = eventMessage(event);
    const spool = recordingQueue();
    const outage = { ...env, DB: unreachableDatabase(), EVENTS_DEAD_LETTER: spool.queue };
    let waitedSeconds = 0;

    // The main queue: every delivery fails and is retried with backoff, until the dead-letter queue.
    for (let attempts = 1; attempts <= MAIN_QUEUE_MAX_RETRIES; attempts += 1) {
      const result = await runBatch(EVENTS_QUEUE, [withAttempts(delivered, attempts)], outage);
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages).toHaveLength(1);
      waitedSeconds += result.retryMessages[0]?.delaySeconds ?? 0;
    }
    // The dead-letter queue: still failing, it keeps retrying with long delays (never `dead`).
    for (let attempts = 1; attempts < DEAD_LETTER_RESPOOL_FROM_ATTEMPT; attempts += 1) {
      const result = await runBatch(EVENTS_DLQ, [withAttempts(delivered, attempts)], outage);
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages).toHaveLength(1);
      waitedSeconds += result.retryMessages[0]?.delaySeconds ?? 0;
    }
    expect(waitedSeconds).toBeGreaterThanOrEqual(72 * 3600);

    // Its 14th delivery, D1 still down: re-spooled as a fresh message instead of retried towards deletion.
    const last = await runBatch(EVENTS_DLQ, [withAttempts(delivered, DEAD_LETTER_RESPOOL_FROM_ATTEMPT)], outage);
    expect(last.retryMessages).toEqual([]);
    expect(last.explicitAcks).toHaveLength(1);
    expect(spool.sent).toHaveLength(1);
    expect(spool.sent[0]?.body).toEqual(delivered.body);
    expect(spool.sent[0]?.delaySeconds).toBeGreaterThan(0);

    // D1 is back: the re-spooled copy applies the event once; a stray copy afterwards changes nothing.
    const recovered = await runBatch(EVENTS_DLQ, [{ ...delivered, id: uniqueId("msg"), body: spool.sent[0]?.body }]);
    expect(recovered.explicitAcks).toHaveLength(1);
    const stray = await runBatch(EVENTS_QUEUE, [withAttempts(delivered, 1)]);
    expect(stray.explicitAcks).toHaveLength(1);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });
    const order = await getEntity(env.DB, ALL_CLINICS, "order", String(event.data.order_id));
    expect(order).toMatchObject({ status: "shipped", tracking_number: "1Z999AA10123456784" });
  });

  it("survives a re-spool that fails once: retried with deliveries to spare, re-spooled next time, applied once", async () => {
    // An event near the edge's 64 KiB cap, so the re-spool also goes through the byte limits.
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), note: padding(60_000) } });
    const delivered = eventMessage(event);
    const spool = limitedQueue();
    const outage = { ...env, DB: unreachableDatabase(), EVENTS_DEAD_LETTER: spool.queue };

    spool.failNext(1);
    const failed = await runBatch(EVENTS_DLQ, [withAttempts(delivered, DEAD_LETTER_RESPOOL_FROM_ATTEMPT)], outage);
    expect(failed.explicitAcks).toEqual([]);
    expect(failed.retryMessages).toHaveLength(1);
    expect(spool.sent).toEqual([]);
    // The failed try was not the message's last delivery: Queues will deliver it again.
    expect(DEAD_LETTER_RESPOOL_FROM_ATTEMPT).toBeLessThan(DEAD_LETTER_MAX_RETRIES);
    expect(failed.retryMessages[0]?.delaySeconds).toBeLessThan(3600);

    const next = await runBatch(EVENTS_DLQ, [withAttempts(delivered, DEAD_LETTER_RESPOOL_FROM_ATTEMPT + 1)], outage);
    expect(next.retryMessages).toEqual([]);
    expect(next.explicitAcks).toHaveLength(1);
    expect(spool.sent).toHaveLength(1);
    expect(spool.sent[0]?.body).toEqual(delivered.body);

    // D1 is back: the re-spooled copy applies the event once.
    const recovered = await runBatch(EVENTS_DLQ, [{ ...delivered, id: uniqueId("msg"), body: spool.sent[0]?.body }]);
    expect(recovered.explicitAcks).toHaveLength(1);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });
  });

  it("never acks an unstored event whose re-spool fails, even on its last delivery", async () => {
    const event = makeEvent("order:delivered", { data: { order_id: uniqueId("ord") } });
    const spool = limitedQueue();
    spool.failNext(1);
    const outage = { ...env, DB: unreachableDatabase(), EVENTS_DEAD_LETTER: spool.queue };
    const result = await runBatch(EVENTS_DLQ, [eventMessage(event, DEAD_LETTER_MAX_RETRIES + 1)], outage);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
  });

  it.each([
    { events: 100, bytes: 3_500 },
    { events: 5, bytes: 60_000 },
  ])(
    "re-spools $events events of $bytes bytes in sends Queues accept, acking each one sent",
    async ({ events, bytes }) => {
      const messages = Array.from({ length: events }, () =>
        withAttempts(
          eventMessage(makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), note: padding(bytes) } })),
          DEAD_LETTER_RESPOOL_FROM_ATTEMPT,
        ),
      );
      const spool = limitedQueue();
      const outage = { ...env, DB: unreachableDatabase(), EVENTS_DEAD_LETTER: spool.queue };
      const result = await runBatch(EVENTS_DLQ, messages, outage);
      expect(result.retryMessages).toEqual([]);
      expect(result.explicitAcks).toHaveLength(events);
      expect(spool.sent.map((sent) => sent.body)).toEqual(messages.map((message) => message.body));
      expect(spool.calls.length).toBeGreaterThan(1);
    },
  );
});

describe("dead-letter consumer", () => {
  it("applies an event whose claim never committed, as the main consumer would", async () => {
    const event = makeEvent("refill:approved", { data: { refill_id: uniqueId("ref") } });
    const result = await runBatch(EVENTS_DLQ, [eventMessage(event, 1)]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });
  });

  it("records an event whose handler still throws as dead, acked and replayable", async () => {
    const event = makeEvent("order:cancelled", { data: { order_id: uniqueId("ord") } });
    const result = await runDeadLetter(event);
    expect(result.retryMessages).toEqual([]);
    const row = await eventRow(event.event_id);
    expect(row).toMatchObject({ status: "dead", applications: 0 });
    expect(row.payload).not.toBeNull();
  });

  it("a dead letter racing a replay: whichever commits first applies the event, the other acks a duplicate", async () => {
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord") } });
    let deadLetter: Awaited<ReturnType<typeof runBatch>> | undefined;
    // Just before the replay's commit runs, the original message, out of retries, reaches the
    // dead-letter consumer and commits first.
    const replayDb = withBatchHook(env.DB, async (batchNumber) => {
      if (batchNumber === 1) deadLetter = await runBatch(EVENTS_DLQ, [eventMessage(event, 1)]);
    });
    const replay = await runBatch(EVENTS_QUEUE, [eventMessage(event)], { ...env, DB: replayDb });
    expect(deadLetter?.explicitAcks).toHaveLength(1);
    expect(replay.explicitAcks).toHaveLength(1);
    expect(replay.retryMessages).toEqual([]);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });

    // A later delivery of either finds the event done and changes nothing.
    const again = await runBatch(EVENTS_DLQ, [eventMessage(event, 2)]);
    expect(again.explicitAcks).toHaveLength(1);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });
  });
});
