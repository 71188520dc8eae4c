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

  it("a status update other than processed leaves an event applied more than once its reapplied entry", async () => {
    const request = claimRequest("order:shipped", { order_id: uniqueId("ord"), patient_id: uniqueId("pat") });
    await complete("processed", request.eventId, (await claim(request)).leaseOwner);
    await env.DB.prepare(`UPDATE events SET status = 'dead' WHERE event_id = ?1`).bind(request.eventId).run();
    // Applied a second time (a forced replay): the row and its new events_reapplied entry.
    expect(await complete("processed", request.eventId, (await claim(request)).leaseOwner)).toBe(2);
    await env.DB.prepare(`UPDATE events SET status = 'dead' WHERE event_id = ?1`).bind(request.eventId).run();
    // Failed this time: the row and its status entry; `applications` is not SET, so its entry stays.
    expect(await complete("failed", request.eventId, (await claim(request)).leaseOwner)).toBe(2);
    const row = await env.DB.prepare(`SELECT status, applications FROM events WHERE event_id = ?1`)
      .bind(request.eventId)
      .first<{ status: string; applications: number }>();
    expect(row).toEqual({ status: "failed", applications: 2 });
  });
});

describe("D1 rows written by a claim", () => {
  it("a claim taken again (a retry of a failed event) writes the row and its status entry, not its id entries again", async () => {
    const request = claimRequest("order:shipped", {
      order_id: uniqueId("ord"),
      medication_request_id: uniqueId("mr"),
      patient_id: uniqueId("pat"),
    });
    const first = await claim(request);
    // The row and its entries in received, status, type, clinic and the three ids named (a lower-case
    // event id has no id-search entry, migration 0182); then the conflict count and the read, which
    // write nothing.
    expect(first.rowsWritten).toEqual([8, 0, 0]);
    await complete("failed", request.eventId, first.leaseOwner);
    // The upsert's SET left the payload as stored, so its JSON-path entries are not written again.
    expect((await claim(request)).rowsWritten).toEqual([2, 0, 0]);
  });

  it("a claim that takes back an event whose payload was purged gives it the delivery's payload again", async () => {
    const request = claimRequest("order:shipped", { order_id: uniqueId("ord"), patient_id: uniqueId("pat") });
    const first = await claim(request);
    await complete("dead", request.eventId, first.leaseOwner);
    await env.DB.prepare(`UPDATE events SET payload = NULL, payload_purged_at = ?2 WHERE event_id = ?1`)
      .bind(request.eventId, new Date(NOW).toISOString())
      .run();
    // The claim as for any event taken again; then, in a round trip of its own (rare: a redelivery
    // after the purge), the payload and its two id entries under the lease just taken.
    expect((await claim(request)).rowsWritten).toEqual([2, 0, 0, 3]);
    const row = await env.DB.prepare(`SELECT status, payload FROM events WHERE event_id = ?1`)
      .bind(request.eventId)
      .first<{ status: string; payload: string | null }>();
    expect(row).toEqual({ status: "processing", payload: request.payload });
  });

  it("the claim tells its caller the D1 queries of each round trip, the payload restore's included", async () => {
    const request = claimRequest("order:shipped", { order_id: uniqueId("ord"), patient_id: uniqueId("pat") });
    const first = await claim(request);
    await complete("dead", request.eventId, first.leaseOwner);
    await env.DB.prepare(`UPDATE events SET payload = NULL, payload_purged_at = ?2 WHERE event_id = ?1`)
      .bind(request.eventId, new Date(NOW).toISOString())
      .run();
    const spent: number[] = [];
    const other = claimRequest("order:shipped", { order_id: uniqueId("ord"), patient_id: uniqueId("pat") });
    const leaseOwner = uniqueId("consumer");
    await claimEvents(env.DB, [request, other], leaseOwner, NOW + 120_000, NOW, (queries) => spent.push(queries));
    // Two upserts, the conflict count and the read; then one restore for the purged event.
    expect(spent).toEqual([4, 1]);
  });
});
