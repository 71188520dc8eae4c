import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { replaySelectedEvents } from "../../src/replay/replay";
import { accessEnv } from "../helpers/access";
import { auditRowsOf } from "../helpers/audit";
import { adminFetchWith } from "../helpers/clinics";
import { TEST_NOW } from "../helpers/clock";
import { eventHistoryOf } from "../helpers/console";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";
import { addStaff, twoClinicAccess, useAccessTeam } from "../helpers/staff";

const access = useAccessTeam();

describe("audit rows of no clinic are for identities of every clinic only", () => {
  it("a viewer of clinic A reads clinic A's audit rows, never a system row nor clinic B's; an admin of all reads each", async () => {
    const { a, b, workerEnv } = twoClinicAccess();
    // One row per kind, each with its own target id to look for.
    const targets = { system: uniqueId("sys"), ofA: uniqueId("tgt"), ofB: uniqueId("tgt") };
    for (const [target, clinicId] of [
      [targets.system, null],
      [targets.ofA, a],
      [targets.ofB, b],
    ] as const)
      await env.DB.prepare(
        `INSERT INTO audit (at, actor, action, target_type, target_id, outcome, status, clinic_id)
         VALUES ('2026-01-15T14:00:00.000Z', 'token:admin', 'audit.canary', 'canary', ?1, 'success', 200, ?2)`,
      )
        .bind(target, clinicId)
        .run();

    const viewer = await access.signedIn(workerEnv, await addStaff(workerEnv, "viewer", [a]));
    const api = await (await viewer("/admin/audit?target_type=canary&limit=100")).text();
    const page = await (await viewer("/console/audit?target_type=canary")).text();
    for (const body of [api, page]) {
      expect(body).toContain(targets.ofA);
      expect(body).not.toContain(targets.system);
      expect(body).not.toContain(targets.ofB);
    }
    const everything = await (await adminFetchWith(workerEnv, "/audit?target_type=canary&limit=100")).json();
    expect(everything).toMatchObject({
      entries: expect.arrayContaining([
        expect.objectContaining({ target_id: targets.system, clinic_id: null }),
        expect.objectContaining({ target_id: targets.ofA, clinic_id: a }),
        expect.objectContaining({ target_id: targets.ofB, clinic_id: b }),
      ]),
    });
  });

  it("reading an event or an entity records its clinic, so the clinic's own staff see who read it", async () => {
    const a = crypto.randomUUID();
    const workerEnv = accessEnv({ NOVAMED_CLINIC_IDS: a });
    const orderId = uniqueId("ord");
    const event = makeEvent("order:shipped", { clinic_id: a, data: { order_id: orderId } });
    await runBatch(EVENTS_QUEUE, [eventMessage(event)], workerEnv);
    const viewer = await access.signedIn(workerEnv, await addStaff(workerEnv, "viewer", [a]));
    expect((await viewer(`/admin/events/${event.event_id}`)).status).toBe(200);
    expect((await viewer(`/admin/orders/${orderId}`)).status).toBe(200);
    const rows = await env.DB.prepare(
      `SELECT action, clinic_id FROM audit WHERE target_id IN (?1, ?2) ORDER BY audit_id`,
    )
      .bind(event.event_id, orderId)
      .all();
    expect(rows.results).toEqual([
      { action: "event.read", clinic_id: a },
      { action: "order.read", clinic_id: a },
    ]);
    const trail = await (await viewer(`/admin/audit?target_id=${orderId}`)).json();
    expect(trail).toMatchObject({ entries: [{ action: "order.read", role: "viewer", clinic_id: a }] });
  });

  it("a bulk replay's row per event carries the event's clinic: A's staff see A's, B's staff see none of it", async () => {
    const { a, b, workerEnv } = twoClinicAccess();
    const invalidOf = (clinicId: string) => makeEvent("refill:denied", { clinic_id: clinicId, data: { refill_id: 7 } });
    const [ofA, ofB] = [invalidOf(a), invalidOf(b)];
    await runBatch(EVENTS_QUEUE, [eventMessage(ofA), eventMessage(ofB)], workerEnv);
    vi.spyOn(env.EVENTS, "sendBatch").mockResolvedValue(undefined as never);
    const operatorOfA = await addStaff(workerEnv, "operator", [a]);
    const bulk = await (await access.signedIn(workerEnv, operatorOfA))("/admin/events/replay", {
      method: "POST",
      body: JSON.stringify({ status: "invalid", type: "refill:denied", limit: 1000 }),
    });
    expect(await bulk.json()).toEqual({ replayed: 1 });
    // Clinic B's event was outside the operator's scope: not replayed, nothing in its history.
    expect((await auditRowsOf("event", ofB.event_id)).map((row) => row.action)).not.toContain("event.replay");

    const viewerOfA = await access.signedIn(workerEnv, await addStaff(workerEnv, "viewer", [a]));
    expect(eventHistoryOf(await (await viewerOfA(`/console/events/${ofA.event_id}`)).text())).toEqual([
      `${new Date(TEST_NOW).toISOString()} — bulk replay by ${operatorOfA}: success (202) — queued to run again`,
    ]);
    expect(await (await viewerOfA("/admin/audit?action=event.replay&limit=100")).json()).toMatchObject({
      entries: [{ target_id: ofA.event_id, clinic_id: a, actor: operatorOfA, role: "operator" }],
    });

    const viewerOfB = await access.signedIn(workerEnv, await addStaff(workerEnv, "viewer", [b]));
    expect((await viewerOfB(`/console/events/${ofA.event_id}`)).status).toBe(404);
    for (const path of [
      "/admin/audit?action=event.replay&limit=100",
      `/admin/audit?target_id=${ofA.event_id}`,
      "/console/audit?action=event.replay",
    ]) {
      const response = await viewerOfB(path);
      expect(response.status, path).toBe(200);
      const body = await response.text();
      expect(body, path).not.toContain(ofA.event_id);
      expect(body, path).not.toContain(operatorOfA);
    }
  });

  it("a selected replay by clinic A's staff writes nothing on clinic B's event it was handed", async () => {
    const { a, b, workerEnv } = twoClinicAccess();
    const finished = (clinicId: string) => makeEvent("order:created", { clinic_id: clinicId });
    const [ofA, ofB] = [finished(a), finished(b)];
    await runBatch(EVENTS_QUEUE, [eventMessage(ofA), eventMessage(ofB)], workerEnv);
    // Both are processed (not replayable): each selected event of the caller's clinics gets a rejected row.
    const result = await replaySelectedEvents(workerEnv, [ofA.event_id, ofB.event_id], {
      actor: { actor: "operator-a@clinic.example", role: "operator", requestId: uniqueId("req") },
      scope: { role: "operator", clinics: [a] },
    });
    expect(result).toEqual({ replayed: 0 });
    expect((await auditRowsOf("event", ofA.event_id)).map((row) => [row.action, row.outcome])).toEqual([
      ["event.replay", "rejected"],
    ]);
    expect(await auditRowsOf("event", ofB.event_id)).toEqual([]);
  });
});
