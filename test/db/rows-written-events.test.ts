import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  type ClaimedRow,
  type ClaimRequest,
  type Completion,
  RECORD_QUERIES,
  readRecorded,
  recordEvent,
} from "../../src/db/events";
import { wrapDatabase } from "../helpers/d1";
import { CLINIC_ID, uniqueId } from "../helpers/events";

/**
 * D1 rows written by the statements every event goes through (issue 26.2), as the runtime's
 * `meta.rows_written` counts them: the record of a new event with its outcome, of one taken again, of
 * one whose payload was purged. Each statement is measured where the code runs it, through a wrapped
 * binding.
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

/**
 * Records `request` with `status` under a fresh token, as the consumer's commit does (the record, the
 * payload restore, then the read); answers the rows the record and the restore wrote.
 */
async function record(request: ClaimRequest, status: Completion["status"]): Promise<number[]> {
  const { db, rowsWritten } = measuringDatabase();
  const token = uniqueId("attempt");
  const results = await db.batch([
    ...recordEvent(db, request, { eventId: request.eventId, status }, token, NOW),
    readRecorded(db, [request.eventId]),
  ]);
  expect((results.at(-1)?.results[0] as ClaimedRow | undefined)?.lease_owner).toBe(token);
  return rowsWritten.flat().slice(0, RECORD_QUERIES);
}

const orderShipped = () =>
  claimRequest("order:shipped", {
    order_id: uniqueId("ord"),
    medication_request_id: uniqueId("mr"),
    patient_id: uniqueId("pat"),
  });

describe("D1 rows written by an event's record", () => {
  it("a new event recorded processed writes the row and its entries in received, type, clinic and its own entity's id", async () => {
    // No entry in events_status_received, which keeps no processed event (migration 0170), nor in
    // the id search (a lower-case event id, migration 0182), nor for the medication request and the
    // patient it names besides its order (migration 0184: its entity keeps them); the restore writes
    // nothing.
    expect(await record(orderShipped(), "processed")).toEqual([5, 0]);
  });

  it.each(["failed", "dead", "invalid", "ignored"] as const)(
    "a new event recorded %s adds its status entry and the patient and medication request it names",
    async (status) => {
      // Not processed: no entity may hold its ids, so events_unapplied_patient and
      // events_unapplied_medication_request index them (migration 0184).
      expect(await record(orderShipped(), status)).toEqual([8, 0]);
    },
  );

  it("an event taken again (a retry of a failed one) writes its row and status entry, not its id entries again", async () => {
    const request = orderShipped();
    await record(request, "failed");
    // The upsert's SET left the payload as stored, so its JSON-path entries are not written again.
    expect(await record(request, "processed")).toEqual([1, 0]);
    const again = orderShipped();
    await record(again, "failed");
    // The row, its status entry, and the unapplied entries, whose partial condition reads `status`:
    // SQLite writes them again when the status changes, even to another status they keep.
    expect(await record(again, "dead")).toEqual([4, 0]);
  });

  it("an event applied again keeps its reapplied entry when a later outcome is not processed", async () => {
    const request = orderShipped();
    await record(request, "processed");
    await env.DB.prepare(`UPDATE events SET status = 'dead' WHERE event_id = ?1`).bind(request.eventId).run();
    // Applied a second time (a forced replay): the row and its new events_reapplied entry.
    expect(await record(request, "processed")).toEqual([2, 0]);
    await env.DB.prepare(`UPDATE events SET status = 'dead' WHERE event_id = ?1`).bind(request.eventId).run();
    // Failed this time: the row, its status entry and its two unapplied entries (written again, as
    // `status` changed); `applications` is not SET, so its entry stays.
    expect(await record(request, "failed")).toEqual([4, 0]);
    const row = await env.DB.prepare(`SELECT status, applications FROM events WHERE event_id = ?1`)
      .bind(request.eventId)
      .first<{ status: string; applications: number }>();
    expect(row).toEqual({ status: "failed", applications: 2 });
  });

  it("an event taken back after its payload was purged gets the delivery's payload again", async () => {
    const request = claimRequest("order:shipped", { order_id: uniqueId("ord"), patient_id: uniqueId("pat") });
    await record(request, "dead");
    await env.DB.prepare(`UPDATE events SET payload = NULL, payload_purged_at = ?2 WHERE event_id = ?1`)
      .bind(request.eventId, new Date(NOW).toISOString())
      .run();
    // The record as for any event taken again; then the payload, its events_purge entry and its
    // order's entry (processed: no entry for the patient it names).
    expect(await record(request, "processed")).toEqual([1, 2]);
    const row = await env.DB.prepare(`SELECT status, payload FROM events WHERE event_id = ?1`)
      .bind(request.eventId)
      .first<{ status: string; payload: string | null }>();
    expect(row).toEqual({ status: "processed", payload: request.payload });
  });

  it("a record that does not take the event (already processed) writes nothing", async () => {
    const request = orderShipped();
    await record(request, "processed");
    const { db, rowsWritten } = measuringDatabase();
    await db.batch(
      recordEvent(db, request, { eventId: request.eventId, status: "processed" }, uniqueId("attempt"), NOW),
    );
    expect(rowsWritten.flat()).toEqual([0, 0]);
  });
});
