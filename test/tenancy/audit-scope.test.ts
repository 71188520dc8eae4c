import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { accessEnv } from "../helpers/access";
import { adminFetchWith } from "../helpers/clinics";
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
});
