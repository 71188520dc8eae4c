import { describe, expect, it } from "vitest";
import { TEST_NOW } from "../helpers/clock";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";

const MINUTE = 60_000;

/** Applies an order:created dated `aheadMs` after its receipt (the test clock) and returns its stored warnings. */
async function warningsFor(aheadMs: number) {
  const event = makeEvent("order:created", {
    timestamp: new Date(TEST_NOW + aheadMs).toISOString(),
    data: { order_id: uniqueId("ord") },
  });
  await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
  const row = await eventRow(event.event_id);
  expect(row.status).toBe("processed");
  return JSON.parse(row.warnings ?? "[]") as { path: string; code?: string; message: string }[];
}

describe("an event dated in the future", () => {
  it("more than 5 minutes after its receipt is processed with a timestamp_in_future warning", async () => {
    expect(await warningsFor(5 * MINUTE + 1000)).toEqual([
      {
        path: "timestamp",
        code: "timestamp_in_future",
        message: "is more than 5 minutes after the receiver got the event",
      },
    ]);
    expect(await warningsFor(3 * 86_400_000)).toMatchObject([{ code: "timestamp_in_future" }]);
  });

  it("up to 5 minutes ahead (clock skew), or in the past, gets no warning", async () => {
    expect(await warningsFor(5 * MINUTE)).toEqual([]);
    expect(await warningsFor(2 * MINUTE)).toEqual([]);
    expect(await warningsFor(-60 * MINUTE)).toEqual([]);
  });
});
