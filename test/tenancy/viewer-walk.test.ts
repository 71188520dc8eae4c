import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/http/app";
import { accessEnv, useAccessTeam } from "../helpers/access";
import { randomClientAddress } from "../helpers/admin";
import { adminFetchWith, createClinicPatient, fetchWith, openClinicAlert, putClinicProfile } from "../helpers/clinics";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

const access = useAccessTeam(useMockNetwork());

/** An audit list's body without the rows of `actor`'s own requests. */
function withoutOwnAuditRows(body: string, actor: string): string {
  const parsed = JSON.parse(body) as { entries?: { actor: string }[] };
  return JSON.stringify({ ...parsed, entries: parsed.entries?.filter((entry) => entry.actor !== actor) });
}

describe("a viewer of clinic A walks every admin route and sees nothing of clinic B", () => {
  it("answers every route without clinic B's ids, names or contact details", async () => {
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    const workerEnv = accessEnv({ NOVAMED_CLINIC_IDS: `${a},${b}` });
    // Clinic B's data, each piece with a value to look for.
    const secretName = `Beta ${uniqueId("name")}`;
    await putClinicProfile(workerEnv, b, { name: secretName });
    const patientB = await createClinicPatient(workerEnv, b, {
      phone: "+14155550666",
      email: "beta-secret@example.org",
    });
    const orderB = uniqueId("ord");
    const eventB = makeEvent("order:shipped", { clinic_id: b, data: { order_id: orderB, patient_id: patientB } });
    await runBatch(EVENTS_QUEUE, [eventMessage(eventB)]);
    // Clinic B's notification (of its event) and an alert about its order, each with its own id.
    const notificationB = await env.DB.prepare(`SELECT notification_id FROM notifications WHERE event_id = ?1`)
      .bind(eventB.event_id)
      .first<{ notification_id: string }>();
    expect(notificationB).not.toBeNull();
    const alertB = await openClinicAlert(b, orderB);
    const markers = [
      b,
      secretName,
      patientB,
      "+14155550666",
      "beta-secret@example.org",
      orderB,
      eventB.event_id,
      String(notificationB?.notification_id),
      alertB,
    ];

    const viewer = `viewer-${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    expect(
      (
        await adminFetchWith(workerEnv, `/staff/${viewer}`, {
          method: "PUT",
          body: JSON.stringify({ role: "viewer", clinics: [a] }),
        })
      ).status,
    ).toBe(200);

    // Every route the app serves under /admin, enumerated from the app itself, with clinic B's ids.
    const values: Record<string, string> = {
      clinic_id: b,
      patient_id: patientB,
      event_id: eventB.event_id,
      order_id: orderB,
      notification_id: String(notificationB?.notification_id),
      alert_id: alertB,
      identity: viewer,
    };
    const routes = [
      ...new Map(
        app.routes
          .filter((route) => route.path.startsWith("/admin/") && route.method !== "ALL")
          .map((route) => [`${route.method} ${route.path}`, route]),
      ).values(),
    ];
    expect(routes.length).toBeGreaterThan(15);
    const token = await access.assertion(viewer);
    const seen: string[] = [];
    const bodies = new Map<string, string>();
    // The routes themselves, and the lists and search again with filters that would find clinic B's rows.
    const walks = [
      ...routes.map((route) => ({ method: route.method, path: route.path })),
      { method: "GET", path: `/admin/events?status=processed` },
      { method: "GET", path: `/admin/events?type=order:shipped` },
      { method: "GET", path: `/admin/alerts?state=open` },
      { method: "GET", path: `/admin/alerts?rule=order:shipped` },
      { method: "GET", path: `/admin/audit?target_type=patient` },
      { method: "GET", path: `/admin/audit?target_id=${patientB}` },
    ];
    for (const route of walks) {
      const path = route.path.replace(/:([a-z_]+)(\{[^}]*\})?/g, (_, name: string) =>
        encodeURIComponent(values[name] ?? "x"),
      );
      const init: RequestInit = {
        method: route.method,
        headers: {
          "cf-access-jwt-assertion": token,
          "cf-connecting-ip": randomClientAddress(),
          "content-type": "application/json",
        },
        ...(route.method === "GET" ? {} : { body: JSON.stringify({ status: "dead", role: "admin", clinics: "all" }) }),
      };
      const response = await fetchWith(workerEnv, new Request(`https://receiver.test${path}`, init));
      const body = await response.text();
      seen.push(`${route.method} ${route.path} ${response.status}`);
      bodies.set(`${route.method} ${route.path}`, body);
      // The audit trail lists the viewer's own requests of clinic A's routes, with the ids it typed: those
      // rows are its own, not clinic B's data; every other row is checked.
      const checked = route.path.startsWith("/admin/audit") ? withoutOwnAuditRows(body, viewer) : body;
      for (const marker of markers) expect(checked, `${route.method} ${route.path}`).not.toContain(marker);
      expect(response.status, `${route.method} ${route.path}`).not.toBe(500);
    }
    // Nothing changed either: clinic B's profile and patient are as they were.
    expect(await env.DB.prepare(`SELECT name FROM clinic_profiles WHERE clinic_id = ?1`).bind(b).first()).toEqual({
      name: secretName,
    });
    expect(seen).toContain(`GET /admin/clinics/:clinic_id 404`);
    // The routes of clinic data answer a viewer of some clinics from its clinics' rows only: lists and
    // counts 200, another clinic's event, entity, notification or patient 404 (as an unknown id), not 403.
    for (const answer of [
      "GET /admin/events 200",
      "GET /admin/events?status=processed 200",
      "GET /admin/stats 200",
      "GET /admin/alerts 200",
      "GET /admin/alerts?state=open 200",
      "GET /admin/audit 200",
      `GET /admin/audit?target_id=${patientB} 200`,
      "GET /admin/events/:event_id 404",
      "GET /admin/orders/:order_id 404",
      "GET /admin/medication-requests/:medication_request_id 404",
      "GET /admin/refills/:refill_id 404",
      "GET /admin/notifications/:notification_id 404",
      "GET /admin/clinics/:clinic_id/patients/:patient_id 404",
    ])
      expect(seen).toContain(answer);
    // Clinic B's event and notification are not counted in a viewer of clinic A's stats.
    expect(JSON.parse(bodies.get("GET /admin/stats") ?? "{}")).toMatchObject({
      events: { total: 0 },
      notifications: { total: 0 },
    });
  });
});
