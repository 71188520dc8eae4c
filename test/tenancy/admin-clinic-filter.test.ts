import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetchWith } from "../helpers/clinics";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";
import { addStaff, twoClinicAccess, useAccessTeam } from "../helpers/staff";

const access = useAccessTeam();

describe("the admin API's lists take a clinic filter (clinic_id=), as the console's do", () => {
  it("events, alerts and audit narrow to one clinic of the identity, and never beyond it", async () => {
    const { a, b, workerEnv } = twoClinicAccess();
    const ids = new Map<string, { event: string; alert: string; audited: string }>();
    for (const clinicId of [a, b]) {
      const event = makeEvent("order:created", { clinic_id: clinicId, data: { order_id: uniqueId("ord") } });
      const alert = uniqueId("alt");
      const audited = uniqueId("tgt");
      ids.set(clinicId, { event: event.event_id, alert, audited });
      await runBatch(EVENTS_QUEUE, [eventMessage(event)], workerEnv);
      await env.DB.batch([
        env.DB.prepare(
          `INSERT INTO alerts (alert_id, rule, target_type, target_id, clinic_id, state, since, opened_at)
           VALUES (?1, 'event_dead', 'event', ?2, ?3, 'open', '2026-01-15T14:00:00.000Z', '2026-01-15T14:00:00.000Z')`,
        ).bind(alert, event.event_id, clinicId),
        env.DB.prepare(
          `INSERT INTO audit (at, actor, action, target_type, target_id, outcome, status, clinic_id)
           VALUES ('2026-01-15T14:00:00.000Z', 'token:admin', 'patient.read', 'filtered', ?1, 'success', 200, ?2)`,
        ).bind(audited, clinicId),
      ]);
    }
    const lists = (clinicId: string) => [
      `/events?limit=100&clinic_id=${clinicId}`,
      `/alerts?limit=100&clinic_id=${clinicId}`,
      `/audit?target_type=filtered&limit=100&clinic_id=${clinicId}`,
    ];
    const ofA = ids.get(a);
    const ofB = ids.get(b);
    for (const path of lists(a)) {
      const response = await adminFetchWith(workerEnv, path);
      expect(response.status, path).toBe(200);
      const body = await response.text();
      expect(body, path).toMatch(new RegExp(`${ofA?.event}|${ofA?.alert}|${ofA?.audited}`));
      for (const id of Object.values(ofB ?? {})) expect(body, path).not.toContain(id);
    }
    // A viewer of clinic A asking for clinic B's rows gets an empty list, not clinic B's.
    const viewer = await access.signedIn(workerEnv, await addStaff(workerEnv, "viewer", [a]));
    for (const path of lists(b)) {
      const response = await viewer(`/admin${path}`);
      expect(response.status, path).toBe(200);
      const body = (await response.json()) as Record<string, unknown[]>;
      expect(body.events ?? body.alerts ?? body.entries, path).toEqual([]);
    }
    const invalid = await adminFetchWith(workerEnv, "/events?clinic_id=not-a-clinic");
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ error: { code: "invalid_query", issues: [{ path: "clinic_id" }] } });
  });
});
