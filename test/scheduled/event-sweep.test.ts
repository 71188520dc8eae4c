import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { markQueuedForReplay, REPLAYABLE } from "../../src/db/event-requeue";
import worker from "../../src/index";
import { CRONS } from "../../src/scheduled/dispatch";
import { STUCK_AFTER_MS } from "../../src/scheduled/event-sweep";
import { TEST_NOW } from "../helpers/clock";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, LEGACY_LEASE_MS, runBatch, runDeadLetter } from "../helpers/queue";

/** Runs the 5-minute cron at `at` and returns the event messages it enqueued. */
async function runSweep(at: number) {
  const sendBatch = vi.spyOn(env.EVENTS, "sendBatch").mockResolvedValue(undefined as never);
  try {
    await worker.scheduled(
      createScheduledController({ scheduledTime: new Date(at), cron: CRONS.notificationSweep }),
      env,
    );
    return sendBatch.mock.calls.flatMap(([messages]) => [...messages]);
  } finally {
    sendBatch.mockRestore();
  }
}

const sweptIds = (messages: MessageSendRequest[]) =>
  messages.map((message) => (message.body as { envelope: { event_id: string } }).envelope.event_id);

describe("stuck-event sweep", () => {
  it("re-enqueues an event left queued by a replay whose send never happened, once it is stale", async () => {
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord") } });
    await runDeadLetter(event);
    // The replay's status change committed, then the Worker died before sending.
    expect(await markQueuedForReplay(env.DB, event.event_id, REPLAYABLE, new Date(TEST_NOW).toISOString())).toBe(
      "dead",
    );

    expect(sweptIds(await runSweep(TEST_NOW + 60_000))).not.toContain(event.event_id);
    const swept = await runSweep(TEST_NOW + STUCK_AFTER_MS + 60_000);
    expect(sweptIds(swept)).toContain(event.event_id);
    // Sent again, it is not stale until another interval has passed.
    expect(sweptIds(await runSweep(TEST_NOW + STUCK_AFTER_MS + 120_000))).not.toContain(event.event_id);

    const message = swept.find((sent) => sweptIds([sent])[0] === event.event_id);
    await runBatch(EVENTS_QUEUE, [{ ...eventMessage(event), body: message?.body }]);
    expect(await eventRow(event.event_id)).toMatchObject({ status: "processed", applications: 1 });
  });

  it("re-enqueues an event held by an expired lease of the release before and leaves a live lease alone", async () => {
    const stuck = makeEvent("refill:requested", { data: { refill_id: uniqueId("ref") } });
    const live = makeEvent("refill:requested", { data: { refill_id: uniqueId("ref") } });
    // Claimed `processing` under a lease by the release before, which died before committing.
    const claim = async (event: typeof stuck, leaseExpiresAt: number) => {
      const read = eventMessage(event).body as { envelope: typeof event; received_at: string };
      await env.DB.prepare(
        `INSERT INTO events (event_id, event_type, clinic_id, status, attempts, occurred_at, received_at, payload,
  payload_hash, lease_owner, lease_expires_at)
VALUES (?1, ?2, ?3, 'processing', 1, ?4, ?5, ?6, ?7, ?8, ?9)`,
      )
        .bind(
          event.event_id,
          event.event_type,
          event.clinic_id,
          event.timestamp,
          read.received_at,
          JSON.stringify(read.envelope),
          uniqueId("hash"),
          uniqueId("dead-consumer"),
          leaseExpiresAt,
        )
        .run();
    };
    await claim(stuck, TEST_NOW + LEGACY_LEASE_MS);
    await claim(live, TEST_NOW + LEGACY_LEASE_MS + STUCK_AFTER_MS + 10 * 60_000);

    const sweepAt = TEST_NOW + LEGACY_LEASE_MS + STUCK_AFTER_MS + 60_000;
    const swept = sweptIds(await runSweep(sweepAt));
    expect(swept).toContain(stuck.event_id);
    expect(swept).not.toContain(live.event_id);
    expect((await eventRow(stuck.event_id)).status).toBe("queued");
    expect((await eventRow(live.event_id)).status).toBe("processing");
  });

  it("keeps an event queued for the next run when the send fails", async () => {
    const event = makeEvent("order:delivered", { data: { order_id: uniqueId("ord") } });
    await runDeadLetter(event);
    await markQueuedForReplay(env.DB, event.event_id, REPLAYABLE, new Date(TEST_NOW).toISOString());
    vi.spyOn(env.EVENTS, "sendBatch").mockRejectedValue(new Error("queue unavailable"));
    await worker.scheduled(
      createScheduledController({
        scheduledTime: new Date(TEST_NOW + STUCK_AFTER_MS + 60_000),
        cron: CRONS.notificationSweep,
      }),
      env,
    );
    vi.restoreAllMocks();
    expect((await eventRow(event.event_id)).status).toBe("queued");
    expect(sweptIds(await runSweep(TEST_NOW + 2 * STUCK_AFTER_MS + 120_000))).toContain(event.event_id);
  });
});
