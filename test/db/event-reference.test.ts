import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type EventSearch, eventsForEntity, searchEventRows } from "../../src/db/event-search";
import type { ListPosition } from "../../src/db/paging";
import { ALL_CLINICS, type StaffScope } from "../../src/db/scope";
import { queryPlans } from "../helpers/d1";
import { CLINIC_ID, makeEvent, OTHER_CLINIC_ID, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

/**
 * The events list's search by an id (issue 26.2, migration 0184). An event indexes only its own
 * entity's id, and the patient and medication request it names only while it is not `processed`; an
 * applied event naming them is found through its entity. The search must still answer what it did
 * when every event indexed every id it names: the events whose payload names the id. The statement
 * below is that definition, read by scanning, and serves as the oracle.
 */

const NAMES_SQL = `SELECT event_id FROM events WHERE (event_id = ?1
  OR json_extract(payload, '$.data.order_id') = ?1 OR json_extract(payload, '$.data.medication_request_id') = ?1
  OR json_extract(payload, '$.data.refill_id') = ?1 OR json_extract(payload, '$.data.patient_id') = ?1)`;

async function namingEvents(ref: string, clinics: string[] | "all"): Promise<string[]> {
  const inScope = clinics === "all" ? "" : " AND clinic_id IN (SELECT value FROM json_each(?2))";
  const statement = env.DB.prepare(`${NAMES_SQL}${inScope}`);
  const bound = clinics === "all" ? statement.bind(ref) : statement.bind(ref, JSON.stringify(clinics));
  const { results } = await bound.all<{ event_id: string }>();
  return results.map((row) => row.event_id).sort();
}

async function searched(ref: string, scope: StaffScope): Promise<string[]> {
  const ids: string[] = [];
  let after: ListPosition | undefined;
  // Small pages, so the search's cursor runs over the reference too.
  for (;;) {
    const page = await searchEventRows(env.DB, scope, { reference: ref, limit: 2, after });
    ids.push(...page.rows.map((row) => row.event_id));
    if (!page.next) break;
    after = page.next;
  }
  return ids.sort();
}

/** A patient's story in clinic A, a stray of clinic B naming the same ids, and events no entity holds. */
async function seed() {
  const patientId = uniqueId("pat");
  const otherPatientId = uniqueId("pat");
  const requestId = uniqueId("mr");
  const orderId = uniqueId("ord");
  const refillId = uniqueId("rf");
  const events = {
    requestCreated: makeEvent("medication_request:created", {
      data: { medication_request_id: requestId, patient_id: patientId, medication_name: "Metformin" },
    }),
    orderCreated: makeEvent("order:created", {
      data: { order_id: orderId, patient_id: patientId, medication_request_id: requestId },
    }),
    orderShipped: makeEvent("order:shipped", {
      data: { order_id: orderId, patient_id: patientId, medication_request_id: requestId },
    }),
    refillRequested: makeEvent("refill:requested", {
      data: { refill_id: refillId, medication_request_id: requestId, patient_id: patientId },
    }),
    // Invalid: no refill is written, so only the unapplied indexes find it by patient and request.
    invalidRefill: makeEvent("refill:denied", {
      data: { refill_id: 7, medication_request_id: requestId, patient_id: patientId },
    }),
    // Clinic B's event for clinic A's order: invalid (clinic_mismatch), naming another patient.
    mismatch: makeEvent("order:delivered", {
      clinic_id: OTHER_CLINIC_ID,
      data: { order_id: orderId, patient_id: otherPatientId, medication_request_id: requestId },
    }),
    // Clinic B's own order for a patient id clinic A also uses.
    otherClinicOrder: makeEvent("order:created", {
      clinic_id: OTHER_CLINIC_ID,
      data: { order_id: uniqueId("ord"), patient_id: patientId },
    }),
  };
  await runBatch(
    EVENTS_QUEUE,
    [events.requestCreated, events.orderCreated].map((event) => eventMessage(event)),
  );
  await runBatch(
    EVENTS_QUEUE,
    [events.orderShipped, events.refillRequested, events.invalidRefill].map((event) => eventMessage(event)),
  );
  await runBatch(
    EVENTS_QUEUE,
    [events.mismatch, events.otherClinicOrder].map((event) => eventMessage(event)),
  );
  const statuses = await env.DB.prepare(
    `SELECT event_id, status FROM events WHERE event_id IN (SELECT value FROM json_each(?1))`,
  )
    .bind(JSON.stringify(Object.values(events).map((event) => event.event_id)))
    .all<{ event_id: string; status: string }>();
  const statusOf = new Map(statuses.results.map((row) => [row.event_id, row.status]));
  return { patientId, otherPatientId, requestId, orderId, refillId, events, statusOf };
}

describe("the events search by an id finds every event naming it", () => {
  it("as when every named id was indexed: a patient, medication request, order, refill or event id, in any scope", async () => {
    const { patientId, otherPatientId, requestId, orderId, refillId, events, statusOf } = await seed();
    // The seed covers both paths: applied events (found through their entity) and unapplied ones.
    expect(statusOf.get(events.orderShipped.event_id)).toBe("processed");
    expect(statusOf.get(events.invalidRefill.event_id)).toBe("invalid");
    expect(statusOf.get(events.mismatch.event_id)).toBe("invalid");
    expect(statusOf.get(events.otherClinicOrder.event_id)).toBe("processed");

    const scopes: [StaffScope, string[] | "all"][] = [
      [ALL_CLINICS, "all"],
      [{ role: "viewer", clinics: [CLINIC_ID] }, [CLINIC_ID]],
      [{ role: "viewer", clinics: [OTHER_CLINIC_ID] }, [OTHER_CLINIC_ID]],
    ];
    const refs = [patientId, otherPatientId, requestId, orderId, refillId, events.orderShipped.event_id, "7", "nobody"];
    for (const [scope, clinics] of scopes) {
      for (const ref of refs)
        expect([ref, clinics, await searched(ref, scope)]).toEqual([ref, clinics, await namingEvents(ref, clinics)]);
    }
    // Spelled out for the patient of clinic A: the whole story, the invalid refill, clinic B's order
    // (all clinics only), never the mismatched event, which names another patient.
    expect(await searched(patientId, { role: "viewer", clinics: [CLINIC_ID] })).toEqual(
      [
        events.requestCreated.event_id,
        events.orderCreated.event_id,
        events.orderShipped.event_id,
        events.refillRequested.event_id,
        events.invalidRefill.event_id,
      ].sort(),
    );
    expect(await searched(requestId, { role: "viewer", clinics: [OTHER_CLINIC_ID] })).toEqual([
      events.mismatch.event_id,
    ]);
  });

  it("combines the reference with the other filters and lists an event once", async () => {
    const { patientId, events } = await seed();
    const scope: StaffScope = { role: "viewer", clinics: [CLINIC_ID] };
    const shipped = await searchEventRows(env.DB, scope, { reference: patientId, type: "order:shipped", limit: 50 });
    expect(shipped.rows.map((row) => row.event_id)).toEqual([events.orderShipped.event_id]);
    const invalid = await searchEventRows(env.DB, scope, { reference: patientId, status: "invalid", limit: 50 });
    expect(invalid.rows.map((row) => row.event_id)).toEqual([events.invalidRefill.event_id]);
    // The event id itself is also its order's event: listed once.
    const byId = await searchEventRows(env.DB, scope, { reference: events.orderShipped.event_id, limit: 50 });
    expect(byId.rows.map((row) => row.event_id)).toEqual([events.orderShipped.event_id]);
  });

  it("an entity's page lists the events of its own types that named it, as before", async () => {
    const { requestId, orderId, events } = await seed();
    const scope = ALL_CLINICS;
    const order = await eventsForEntity(env.DB, scope, "order", orderId, 20);
    expect(order.events.map((row) => row.event_id).sort()).toEqual(
      [events.orderCreated.event_id, events.orderShipped.event_id, events.mismatch.event_id].sort(),
    );
    const request = await eventsForEntity(env.DB, scope, "medication_request", requestId, 20);
    expect(request.events.map((row) => row.event_id)).toEqual([events.requestCreated.event_id]);
    const inA = await eventsForEntity(env.DB, { role: "viewer", clinics: [CLINIC_ID] }, "order", orderId, 20);
    expect(inA.events.map((row) => row.event_id).sort()).toEqual(
      [events.orderCreated.event_id, events.orderShipped.event_id].sort(),
    );
  });

  it("an applied event naming another patient than its entity's first is found by the entity, not that patient", async () => {
    const { patientId, orderId, events } = await seed();
    const strayPatient = uniqueId("pat");
    const processing = makeEvent("order:processing", { data: { order_id: orderId, patient_id: strayPatient } });
    await runBatch(EVENTS_QUEUE, [eventMessage(processing)]);
    // The order keeps its first event's patient; the search reads the patient from the order.
    expect(await searched(strayPatient, ALL_CLINICS)).toEqual([]);
    expect(await searched(orderId, ALL_CLINICS)).toContain(processing.event_id);
    expect(await searched(patientId, ALL_CLINICS)).not.toContain(processing.event_id);
    expect(await searched(patientId, ALL_CLINICS)).toContain(events.orderShipped.event_id);
  });

  it("reads only index lookups: no scan of events or an entity table, even through an expression index", async () => {
    const { patientId } = await seed();
    const searches: [StaffScope, EventSearch][] = [
      [
        { role: "viewer", clinics: [CLINIC_ID] },
        { reference: patientId, limit: 50 },
      ],
      [ALL_CLINICS, { reference: patientId, status: "invalid", limit: 50 }],
    ];
    for (const [scope, search] of searches) {
      const details = await queryPlans(env.DB, (db) => searchEventRows(db, scope, search));
      // The one scan is of the named ids (a handful), each then read by primary key. Without the
      // `+` of `+entity.<id>`, SQLite scans each subject index ("SCAN e USING INDEX ...").
      expect(details.filter((detail) => detail.startsWith("SCAN"))).toEqual(["SCAN named"]);
      expect(details).toContain("SEARCH events USING PRIMARY KEY (event_id=?)");
    }
  });
});
