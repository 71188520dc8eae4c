import { createExecutionContext, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { listAlerts } from "../../src/db/alerts";
import { listAuditRows } from "../../src/db/audit";
import { listChanges } from "../../src/db/changes";
import { listDestinations } from "../../src/db/destinations";
import { getEntity } from "../../src/db/entities";
import { markQueuedForBulkReplay } from "../../src/db/event-requeue";
import { eventsForEntity, searchEventRows, selectPatientNotifications } from "../../src/db/event-search";
import { eventIdsInScope, eventStats, getEventRow } from "../../src/db/events";
import { listEntities, listNotifications, listPatients } from "../../src/db/lists";
import { notificationStats, notificationWithHistory } from "../../src/db/notification-views";
import { readOverview } from "../../src/db/overview";
import { ALL_CLINICS, type StaffScope } from "../../src/db/scope";
import { encodePosition } from "../../src/http/cursor";
import worker from "../../src/index";
import { CRONS } from "../../src/scheduled/dispatch";
import { findAnything } from "../../src/search/find";
import { newClinic, seedFinishedDay } from "../archive/helpers";
import { consoleFetch as consoleRequest, signIn } from "../helpers/console";
import { wrapDatabase } from "../helpers/d1";
import { ADMIN_TOKEN, CLINIC_ID, makeEvent, uniqueId } from "../helpers/events";
import { applyAndCaptureJobs, createPatient, runSender } from "../helpers/notifications";
import { EVENTS_QUEUE, eventMessage, runBatch, runDeadLetter } from "../helpers/queue";

/** Tables that grow with traffic: a full scan of one of them is a query that slows as it grows. */
const GROWING_TABLES = [
  "events",
  "notifications",
  "orders",
  "medication_requests",
  "refills",
  "patients",
  "audit",
  "changes",
];
const FULL_SCAN = new RegExp(`^SCAN (${GROWING_TABLES.join("|")})$`);

interface RecordedQuery {
  sql: string;
  args: unknown[];
}

/**
 * A D1 binding that records every statement prepared through it with the values it was bound to,
 * so the test collects the queries of every path it drives in one place, whatever builds them.
 */
function recordingDatabase(recorded: Map<string, RecordedQuery>): D1Database {
  return wrapDatabase(env.DB, {
    prepare: (sql, prepare) => {
      const statement = prepare(sql);
      if (!recorded.has(sql)) recorded.set(sql, { sql, args: [] });
      const bind = statement.bind.bind(statement);
      statement.bind = (...args: unknown[]) => {
        recorded.set(sql, { sql, args });
        return bind(...args);
      };
      return statement;
    },
  });
}

/** Drives every path that runs per batch, per admin or console page, per cron, through `recordingEnv`. */
async function driveEveryPath(recordingEnv: Env): Promise<void> {
  const fetch = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (path.startsWith("/admin")) headers.set("authorization", `Bearer ${ADMIN_TOKEN}`);
    return worker.fetch(
      new Request(`https://receiver.test${path}`, { ...init, headers }),
      recordingEnv,
      createExecutionContext(),
    );
  };
  const patientId = await createPatient();
  const orderId = uniqueId("ord");
  const shipped = makeEvent("order:shipped", { data: { order_id: orderId, patient_id: patientId } });
  const request = makeEvent("medication_request:approved", { data: { medication_request_id: uniqueId("mr") } });
  const refill = makeEvent("refill:denied", { data: { refill_id: uniqueId("ref") } });
  const invalid = makeEvent("refill:approved", { data: { refill_id: 42 } });

  // Queue consumers: events (with notifications), the dead-letter path, the sender.
  await runBatch(
    EVENTS_QUEUE,
    [shipped, request, refill, invalid].map((event) => eventMessage(event)),
    recordingEnv,
  );
  await runBatch(EVENTS_QUEUE, [eventMessage(shipped)], recordingEnv);
  const dead = makeEvent("order:cancelled", { data: { order_id: uniqueId("ord") } });
  await runDeadLetter(dead);
  const jobs = await applyAndCaptureJobs([
    makeEvent("order:delivered", { data: { order_id: uniqueId("ord"), patient_id: patientId } }),
  ]);
  await runSender(jobs, { workerEnv: recordingEnv });

  // Admin API.
  const json = { "content-type": "application/json" };
  for (const query of ["", "?status=dead", "?type=order:shipped", "?status=processed&type=order:shipped", "?limit=1"]) {
    const page = (await (await fetch(`/admin/events${query}`)).json()) as { next_cursor: string | null };
    if (page.next_cursor) await fetch(`/admin/events${query}${query ? "&" : "?"}cursor=${page.next_cursor}`);
  }
  await fetch(`/admin/events/${shipped.event_id}`);
  await fetch("/admin/stats");
  await fetch(`/admin/orders/${orderId}`);
  await fetch(`/admin/medication-requests/${String(request.data.medication_request_id)}`);
  await fetch(`/admin/refills/${String(refill.data.refill_id)}`);
  await fetch(`/admin/patients/${patientId}`);
  // The search: phone, email, tracking number, id prefix (each kind).
  for (const q of ["(415) 555-0100", "pat@example.org", "1Z999AA10123456784", orderId.slice(0, 8), "evt_"])
    await fetch(`/admin/search?q=${encodeURIComponent(q)}`);
  await fetch("/admin/changes");
  await fetch("/admin/changes?after=1&limit=10");
  await fetch("/admin/destinations");
  vi.spyOn(env.EVENTS, "sendBatch").mockResolvedValue(undefined as never);
  await fetch(`/admin/events/${dead.event_id}/replay`, { method: "POST" });
  for (const body of [
    { status: "invalid" },
    { status: "dead", type: "order:cancelled" },
    { status: "failed", received_after: "2026-01-01T00:00:00Z", received_before: "2026-02-01T00:00:00Z" },
    { status: "dead", type: "order:cancelled", received_after: "2026-01-01T00:00:00Z" },
  ])
    await fetch("/admin/events/replay", { method: "POST", headers: json, body: JSON.stringify(body) });

  // The same readers for an identity of some clinics: their SQL gains a clinic condition, which must keep its index.
  const db = recordingEnv.DB;
  const some: StaffScope = { role: "operator", clinics: [CLINIC_ID] };
  const after = { time: new Date().toISOString(), id: "evt_z" };
  for (const query of [
    { limit: 50 },
    { status: "processed" as const, limit: 50 },
    { type: "order:shipped", limit: 50, after },
  ])
    await searchEventRows(db, some, query);
  await eventStats(db, some);
  await notificationStats(db, some);
  await getEventRow(db, some, shipped.event_id);
  await eventIdsInScope(db, some, [shipped.event_id, dead.event_id]);
  await getEntity(db, some, "order", orderId);
  await notificationWithHistory(db, some, "ntf_x");
  await listAlerts(db, some, { limit: 50 });
  await listAlerts(db, some, { state: "open", limit: 50 });
  for (const query of [
    { limit: 50 },
    { actor: "token:admin", limit: 50 },
    { targetType: "patient", targetId: patientId, limit: 50 },
  ])
    await listAuditRows(db, some, query);
  for (const search of [{ limit: 50 }, { reference: orderId, limit: 50 }, { status: "processed" as const, limit: 50 }])
    await searchEventRows(db, some, search);
  await eventsForEntity(db, some, "order", orderId, 20);
  await selectPatientNotifications(db, some, patientId, 20).all();
  await readOverview(db, some, [CLINIC_ID], "2026-01-01T00:00:00.000Z");
  await markQueuedForBulkReplay(db, { status: "invalid", limit: 10, scope: some }, new Date().toISOString(), {
    actor: "token:admin",
    role: "operator",
    requestId: null,
  });
  const position = { time: new Date().toISOString(), id: "x" };
  for (const query of [{ limit: 50 }, { limit: 50, from: "2026-01-01", before: "2027-01-01", after: position }]) {
    for (const kind of ["order", "medication_request", "refill"] as const) {
      await listEntities(db, some, kind, query);
      await listEntities(db, some, kind, { ...query, status: "created" });
    }
    await listPatients(db, some, CLINIC_ID, query);
    await listNotifications(db, some, query);
    await listNotifications(db, some, { ...query, status: "held", channel: "sms", kind: "order_shipped" });
    await listNotifications(db, some, { ...query, reason: "daily_cap" });
  }
  await findAnything({ ...recordingEnv, DB: db }, some, "(415) 555-0100");
  await findAnything({ ...recordingEnv, DB: db }, some, "1Z999AA10123456784");
  await listChanges(db, some, 0, 50);
  await listDestinations(db, some);

  // Console pages.
  const consoleFetch = async (request: Request) => worker.fetch(request, recordingEnv, createExecutionContext());
  const { cookie, csrf } = await signIn(consoleFetch);
  for (const path of [
    "/console",
    "/console/events",
    "/console/events?status=processed",
    "/console/events?type=order:shipped",
    `/console/events?q=${orderId}`,
    `/console/events?q=${patientId}&status=processed`,
    `/console/events/${shipped.event_id}`,
    `/console/orders/${orderId}`,
    `/console/medication-requests/${String(request.data.medication_request_id)}`,
    `/console/refills/${String(refill.data.refill_id)}`,
    `/console/patients/${patientId}`,
    "/console/audit",
    "/console/search?q=ord_1234",
    "/console/patients",
    "/console/orders",
    "/console/orders?status=shipped&from=2026-01-01T00%3A00&to=2027-01-01T00%3A00",
    "/console/medication-requests?status=approved",
    "/console/refills",
    "/console/notifications",
    "/console/notifications?status=held&channel=sms&kind=order_shipped&reason=daily_cap",
    "/console/notifications?channel=email",
    "/console/audit?actor=token%3Aadmin",
    "/console/audit?action=patient.read",
    "/console/audit?target_type=patient",
    `/console/audit?target_type=patient&target_id=${patientId}`,
    `/console/audit?actor=token%3Aadmin&action=patient.read&target_type=patient&target_id=${patientId}`,
    `/console/audit?actor=token%3Aadmin&cursor=${encodePosition({ time: new Date().toISOString(), id: 1 })}`,
  ])
    await consoleFetch(new Request(`https://receiver.test${path}`, { headers: { cookie } }));
  for (const fields of [
    [
      ["scope", "selected"],
      ["event_id", invalid.event_id],
      ["event_id", dead.event_id],
    ],
    [
      ["scope", "matching"],
      ["status", "invalid"],
      ["type", "refill:approved"],
      ["from", "2026-01-01T00:00"],
      ["to", "2026-02-01T00:00"],
    ],
  ] as [string, string][][]) {
    const replay = await consoleRequest(
      "/console/events/replay",
      { cookie, form: [["_csrf", csrf], ...fields] },
      consoleFetch,
    );
    expect(replay.headers.get("location")).toContain("replayed=");
  }

  // Crons, with finished history and audit rows old enough for the archive (src/archive/) to move.
  const archived = await seedFinishedDay(newClinic(), "2025-06-01", 2);
  await env.DB.prepare(
    `INSERT INTO audit (at, actor, action, target_type, target_id, outcome, status)
     VALUES ('2024-06-01T09:00:00.000Z', 'token:admin', 'event.read', 'event', 'evt_old', 'success', 200)`,
  ).run();
  vi.spyOn(env.NOTIFICATIONS, "sendBatch").mockResolvedValue(undefined as never);
  for (const cron of [CRONS.notificationSweep, CRONS.retention])
    await worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron }), recordingEnv);
  expect(await (await fetch(`/admin/events/${archived.eventIds[0]}`)).json()).toMatchObject({ archived: true });
}

describe("queries stay indexed", () => {
  // It drives every path of the Worker (a few seconds alone, more on a busy machine).
  it("every query of every batch, admin page, console page and cron uses an index on the growing tables", {
    timeout: 30_000,
  }, async () => {
    const recorded = new Map<string, RecordedQuery>();
    await driveEveryPath({ ...env, DB: recordingDatabase(recorded) });
    // The paths above reach every module that queries D1.
    expect(recorded.size).toBeGreaterThan(30);

    const scans: { sql: string; detail: string }[] = [];
    for (const { sql, args } of recorded.values()) {
      const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .bind(...args)
        .all<{ detail: string }>()
        .catch((error: unknown) => {
          throw new Error(`${String(error)} in ${sql.slice(0, 200)} with ${args.length} values`);
        });
      for (const { detail } of results) if (FULL_SCAN.test(detail)) scans.push({ sql: sql.slice(0, 160), detail });
    }
    expect(scans).toEqual([]);
  });
});

/** Every combination of the given optional filters: each present or absent. */
function combinations<T extends Record<string, unknown>>(filters: T): Partial<T>[] {
  return Object.entries(filters).reduce<Partial<T>[]>(
    (sets, [name, value]) => sets.flatMap((set) => [set, { ...set, [name]: value }]),
    [{}],
  );
}

/** The plan lines of each recorded query that scan a table or sort in a temp B-tree. */
async function unindexedPlans(recorded: Map<string, RecordedQuery>): Promise<{ sql: string; detail: string }[]> {
  const found: { sql: string; detail: string }[] = [];
  for (const { sql, args } of recorded.values()) {
    const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .bind(...args)
      .all<{ detail: string }>();
    for (const { detail } of results)
      if (/^SCAN \w+$|TEMP B-TREE/.test(detail)) found.push({ sql: sql.slice(0, 240), detail });
  }
  return found;
}

describe("every list (admin API and console)", () => {
  it("reads an index in its order for every filter combination, page and scope (no scan, no temp B-tree)", async () => {
    const recorded = new Map<string, RecordedQuery>();
    const db = recordingDatabase(recorded);
    const some: StaffScope = { role: "viewer", clinics: [CLINIC_ID] };
    const at = "2026-01-01T00:00:00.000Z";
    for (const scope of [ALL_CLINICS, some]) {
      for (const filters of combinations({ state: "open" as const, rule: "order_stuck", after: { time: at, id: "a" } }))
        await listAlerts(db, scope, { ...filters, limit: 10 });
      // `processed` reads a time-ordered index and filters; any other status reads the partial
      // events_status_received (migration 0170), which only its literal term lets SQLite use.
      for (const status of ["processed", "dead"] as const)
        for (const filters of combinations({
          status,
          type: "order:shipped",
          receivedFrom: at,
          receivedBefore: "2026-02-01T00:00:00.000Z",
          after: { time: at, id: "evt_z" },
        }))
          await searchEventRows(db, scope, { ...filters, limit: 10 });
      for (const filters of combinations({
        actor: "token:admin",
        action: "patient.read",
        targetType: "patient",
        targetId: "pat_1",
        after: { time: at, id: 7 },
      }))
        await listAuditRows(db, scope, { ...filters, limit: 10 });
    }
    // 2 scopes × (alerts 8 + events 32 + 16 more with the other status + audit 32 combinations).
    expect(recorded.size).toBe(176);
    expect(await unindexedPlans(recorded)).toEqual([]);
  });
});

describe("the full-scan detector", () => {
  it("flags the catch-all filter this test exists to keep out", async () => {
    const { results } = await env.DB.prepare(
      `EXPLAIN QUERY PLAN SELECT event_id FROM events WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR event_type = ?2)`,
    )
      .bind("dead", null)
      .all<{ detail: string }>();
    expect(results.some(({ detail }) => FULL_SCAN.test(detail))).toBe(true);
  });
});
