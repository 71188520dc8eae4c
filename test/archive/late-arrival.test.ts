import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { archiveFinishedHistory } from "../../src/archive/run";
import { TEST_NOW } from "../helpers/clock";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";
import { archivedLines, countWhereIn } from "./helpers";

// Its own file (its own D1 and R2): the second run is 91 days ahead and would archive what the other
// archive tests keep as recent.

const DAY_MS = 86_400_000;

/**
 * A medication request whose whole life happened long before the 90-day cutoff (2025-10-17 at the
 * suite's clock), delivered only now: a backfill, a replay of old history, or a sender whose clock is
 * far behind. Its events are archived by when they were received, so it must not leave D1 first.
 */
async function receiveOldHistory() {
  const medicationRequestId = uniqueId("med_req_late");
  const created = makeEvent("medication_request:created", {
    timestamp: "2025-03-01T09:00:00.000Z",
    data: { medication_request_id: medicationRequestId },
  });
  const filled = makeEvent("medication_request:filled", {
    timestamp: "2025-03-02T09:00:00.000Z",
    data: { medication_request_id: medicationRequestId, filled_at: "2025-03-02T09:00:00.000Z" },
  });
  const result = await runBatch(EVENTS_QUEUE, [eventMessage(created), eventMessage(filled)]);
  expect(result.retryMessages).toEqual([]);
  expect((await eventRow(filled.event_id)).status).toBe("processed");
  return { medicationRequestId, eventIds: [created.event_id, filled.event_id] };
}

describe("the archive measures an entity's quiet by the receiver's clock too", () => {
  it("keeps a final entity whose old events arrived today, then archives it once quiet that long", async () => {
    const { medicationRequestId, eventIds } = await receiveOldHistory();
    const row = await env.DB.prepare(
      `SELECT status, last_event_at, updated_at FROM medication_requests WHERE medication_request_id = ?1`,
    )
      .bind(medicationRequestId)
      .first();
    expect(row).toEqual({
      status: "filled",
      last_event_at: "2025-03-02T09:00:00.000Z",
      updated_at: new Date(TEST_NOW).toISOString(),
    });

    // Today: its last event is 320 days old, but it was written minutes ago. Nothing of it moves.
    await archiveFinishedHistory(env, new Date(TEST_NOW), { queryBudget: 600 });
    expect(await countWhereIn("medication_requests", "medication_request_id", [medicationRequestId])).toBe(1);
    expect(await countWhereIn("events", "event_id", eventIds)).toBe(2);
    expect((await archivedLines("history/")).lines).toEqual([]);

    // 91 days on, quiet by both clocks: it leaves with its events, each once.
    await archiveFinishedHistory(env, new Date(TEST_NOW + 91 * DAY_MS), { queryBudget: 600 });
    expect(await countWhereIn("medication_requests", "medication_request_id", [medicationRequestId])).toBe(0);
    expect(await countWhereIn("events", "event_id", eventIds)).toBe(0);
    const { lines } = await archivedLines("history/");
    const archived = (table: string, column: string) =>
      lines.filter((line) => line.table === table).map((line) => line.row[column]);
    expect(archived("medication_requests", "medication_request_id")).toEqual([medicationRequestId]);
    expect(archived("events", "event_id").sort()).toEqual([...eventIds].sort());
  });
});
