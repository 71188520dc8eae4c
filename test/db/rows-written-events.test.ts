import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type ClaimRequest, type Completion, claimEvents, completeEvent } from "../../src/db/events";
import { wrapDatabase } from "../helpers/d1";
import { CLINIC_ID, uniqueId } from "../helpers/events";

/**
 * D1 rows written by the statements every event goes through (issue 26.2), as the runtime's
 * `meta.rows_written` counts them: the claim, the status update that finishes the event, a claim
 * taken again. Each statement is measured where the code runs it, through a wrapped binding.
 */

const NOW = Date.parse("2026-03-02T10:00:00.000Z");

function claimRequest(eventType: string, data: Record<string, string>): ClaimRequest {
  const eventId = uniqueId("evt");
  const payload = JSON.stringify({ event_id: eventId, event_type: eventType, clinic_id: CLINIC_ID, data });
  return {
    eventId,
    eventType,
    clinicId: CLINIC_ID,
    occurredAt: "2026-03-02T09:59:00.000Z",
    receivedAt: "2026-03-02T09:59:30.000Z",
    payload,
    payloadHash: `hash-${eventId}`,
    requestId: null,
  };
}

/** `db` recording the rows each statement of a batch wrote, in order, batch after batch. */
function measuringDatabase(): { db: D1Database; rowsWritten: number[][] } {
  const rowsWritten: number[][] = [];
  const db = wrapDatabase(env.DB, {
    batch: async (statements, batch) => {
      const results = await batch(statements);
      rowsWritten.push(results.map((result) => result.meta.rows_written));
      return results;
    },
  });
  return { db, rowsWritten };
}

/** Claims `request` under a fresh lease; answers the lease and the rows each claim statement wrote. */
async function claim(request: ClaimRequest): Promise<{ leaseOwner: string; rowsWritten: number[] }> {
  const { db, rowsWritten } = measuringDatabase();
  const leaseOwner = uniqueId("consumer");
  const claimed = await claimEvents(db, [request], leaseOwner, NOW + 120_000, NOW);
  expect(claimed.get(request.eventId)?.lease_owner).toBe(leaseOwner);
  return { leaseOwner, rowsWritten: rowsWritten.flat() };
}

async function complete(status: Completion["status"], eventId: string, leaseOwner: string): Promise<number> {
  const result = await completeEvent(env.DB, { eventId, status }, leaseOwner, new Date(NOW).toISOString()).run();
  expect(result.meta.changes).toBe(1);
  return result.meta.rows_written;
}

describe("D1 rows written on the events path", () => {
  it("the status update to processed writes the row alone; to any other status, the row and its status entry", async () => {
    // events_status_received keeps no processed event (migration 0170): the row leaves the index,
    // which costs nothing, where the update re-added its entry under the new status (2 rows).
    const processed = claimRequest("order:shipped", { order_id: uniqueId("ord"), patient_id: uniqueId("pat") });
    expect(await complete("processed", processed.eventId, (await claim(processed)).leaseOwner)).toBe(1);
    for (const status of ["failed", "dead", "invalid", "ignored"] as const) {
      const other = claimRequest("order:shipped", { order_id: uniqueId("ord"), patient_id: uniqueId("pat") });
      expect(await complete(status, other.eventId, (await claim(other)).leaseOwner)).toBe(2);
    }
  });
});
