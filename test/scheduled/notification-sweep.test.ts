import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { CRONS } from "../../src/scheduled/dispatch";
import { STALE_AFTER_MS } from "../../src/scheduled/notification-sweep";
import { TEST_NOW } from "../helpers/clock";
import { makeEvent, uniqueId } from "../helpers/events";
import { createPatient } from "../helpers/notifications";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

describe("notification sweep", () => {
  it("re-enqueues outbox rows whose enqueue failed after the commit, and only stale ones", async () => {
    const patientId = await createPatient();
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
    const sendBatch = vi.spyOn(env.NOTIFICATIONS, "sendBatch").mockRejectedValueOnce(new Error("queue unavailable"));
    const result = await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    // The event is processed and acked although its send jobs were not enqueued.
    expect(result.explicitAcks).toHaveLength(1);
    expect(sendBatch).toHaveBeenCalledTimes(1);
    sendBatch.mockReset();
    sendBatch.mockResolvedValue(undefined as never);

    const runSweep = async (at: number) => {
      await worker.scheduled(
        createScheduledController({ scheduledTime: new Date(at), cron: CRONS.notificationSweep }),
        env,
      );
      return sendBatch.mock.calls.flatMap(([messages]) =>
        [...messages].map((message) => message.body as { event_id: string; channel: string }),
      );
    };
    expect((await runSweep(TEST_NOW)).filter((job) => job.event_id === event.event_id)).toEqual([]);
    const swept = await runSweep(TEST_NOW + STALE_AFTER_MS + 60_000);
    expect(
      swept
        .filter((job) => job.event_id === event.event_id)
        .map((job) => job.channel)
        .sort(),
    ).toEqual(["email", "sms"]);
  });
});
