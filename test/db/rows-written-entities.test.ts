import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type EntityWrite, getEntity, upsertEntity } from "../../src/db/entities";
import { ALL_CLINICS } from "../../src/db/scope";
import type { EntityKind } from "../../src/event-types";
import { uniqueId } from "../helpers/events";

/**
 * D1 rows written by the entity upsert (issue 26.2), as the runtime's `meta.rows_written` counts
 * them: the row, one per index entry the write adds (an UPDATE re-adds the entry of every index over
 * a column it assigns), and the change row the status triggers write (migration 0121).
 */

const LEASE = "lease_rows_entities";

type Step = Omit<EntityWrite, "kind" | "entityId" | "eventId" | "clinicId" | "patientId">;

/** Runs one event's guarded upsert of `entityId` (its event claimed by LEASE); answers the rows it wrote. */
async function upsert(kind: EntityKind, entityId: string, step: Step): Promise<number> {
  const eventId = uniqueId("evt");
  await env.DB.prepare(
    `INSERT INTO events (event_id, event_type, clinic_id, status, occurred_at, received_at, payload_hash, lease_owner)
     VALUES (?1, ?2, 'clinic_rows', 'processing', ?3, ?3, 'h', ?4)`,
  )
    .bind(eventId, `${kind}:${step.status}`, step.occurredAt, LEASE)
    .run();
  const write = { ...step, kind, entityId, eventId, clinicId: "clinic_rows", patientId: "pat_rows" } as EntityWrite;
  const result = await upsertEntity(env.DB, write, { leaseOwner: LEASE, now: "2026-03-01T00:00:00.000Z" }).run();
  return result.meta.rows_written;
}

const at = (hour: number) => `2026-01-01T${String(hour).padStart(2, "0")}:00:00.000Z`;

const created: Step = {
  status: "created",
  rank: 1,
  occurredAt: at(1),
  facts: { medication_request_id: "mr_rows", shipping_address: "{}" },
};
const shipped: Step = {
  status: "shipped",
  rank: 3,
  occurredAt: at(3),
  facts: { carrier: "UPS", tracking_number: "1Z999AA10123456784", estimated_delivery: "2026-01-05", shipped_at: at(3) },
};
const delivered: Step = { status: "delivered", rank: 4, occurredAt: at(4), facts: { delivered_at: at(4) } };

describe("D1 rows written per entity upsert", () => {
  it.each([
    ["order", created],
    ["medication_request", { status: "created", rank: 1, occurredAt: at(1), facts: { medication_name: "Metformin" } }],
    ["refill", { status: "requested", rank: 1, occurredAt: at(1), facts: { requested_at: at(1) } }],
  ] as [EntityKind, Step][])("a %s created is its primary key's entry (WITHOUT ROWID)", async (kind, step) => {
    // The row, patient, status, status change (and for an order its medication request; a refill
    // names none here, so it has no refills_medication_request entry, migration 0184), and the
    // change row; a rowid table wrote an entry for the primary key too (migration 0180),
    // <table>_facts_unpurged one for the facts kept (migration 0181: the purge walks from a mark), and
    // the id search one for lower(<id>), which only an id with an upper-case letter has (migration 0182).
    expect(await upsert(kind, uniqueId(kind), step)).toBe(kind === "order" ? 6 : 5);
    expect(await upsert(kind, uniqueId(kind).toUpperCase(), step)).toBe(kind === "order" ? 7 : 6);
  });

  it("an order.delivered without tracking re-adds neither the tracking nor the medication-request entry", async () => {
    const orderId = uniqueId("ord");
    await upsert("order", orderId, created);
    await upsert("order", orderId, shipped);
    // The row, status, status change, and the change row (migration 0121): 4. SETting every fact also
    // re-added orders_medication_request and orders_tracking_key, and SETting last_event_at the
    // orders_facts_unpurged entry (migration 0181): 7.
    expect(await upsert("order", orderId, delivered)).toBe(4);
  });

  it("an order.shipped re-adds the tracking entry it changes, not the medication-request entry", async () => {
    const orderId = uniqueId("ord");
    await upsert("order", orderId, created);
    // The row, status, status change, shipped by date, tracking, change: 6 (was 8 with the
    // medication-request and unpurged-facts entries).
    expect(await upsert("order", orderId, shipped)).toBe(6);
  });

  it("a stale event carrying no fact writes the row and the entries over the status and times", async () => {
    const orderId = uniqueId("ord");
    await upsert("order", orderId, created);
    await upsert("order", orderId, shipped);
    await upsert("order", orderId, delivered);
    // The status is SET though it stays (see progressionUpsertSql): the row, status, status change, no
    // change row, no mark moved: 3 (was 6).
    expect(await upsert("order", orderId, { status: "processing", rank: 2, occurredAt: at(2), facts: {} })).toBe(3);
    expect(await getEntity(env.DB, ALL_CLINICS, "order", orderId)).toMatchObject({
      status: "delivered",
      medication_request_id: "mr_rows",
      tracking_number: "1Z999AA10123456784",
      last_event_at: at(4),
    });
  });

  it("fact_times names only the facts an event carried", async () => {
    const orderId = uniqueId("ord");
    await upsert("order", orderId, created);
    await upsert("order", orderId, delivered);
    const row = await getEntity(env.DB, ALL_CLINICS, "order", orderId);
    // Every fact was SET, and json_set wrote a null time for each one no event carried.
    expect(Object.keys(JSON.parse(String(row?.fact_times))).sort()).toEqual([
      "delivered_at",
      "medication_request_id",
      "shipping_address",
    ]);
  });
});
