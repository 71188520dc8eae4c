import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { twoClinicsBehindAccess, useAccessTeam } from "../helpers/access";
import { adminFetchWith, createClinicPatient, openClinicAlert } from "../helpers/clinics";
import { csrfTokenOf } from "../helpers/console";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

const access = useAccessTeam(useMockNetwork());

describe("the console resolves the staff scope: roles, and pages filtered to the identity's clinics", () => {
  it("a viewer of clinic A sees clinic A's rows, masked, never clinic B's, and may not change anything", async () => {
    const { a, b, workerEnv, adminEnv } = twoClinicsBehindAccess();
    const seed = async (clinicId: string, phone: string) => {
      const patientId = await createClinicPatient(adminEnv, clinicId, { phone });
      const orderId = uniqueId("ord");
      const event = makeEvent("order:shipped", {
        clinic_id: clinicId,
        data: { order_id: orderId, patient_id: patientId },
      });
      await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
      const alertId = await openClinicAlert(clinicId, orderId);
      return { patientId, orderId, eventId: event.event_id, alertId };
    };
    const ofA = await seed(a, "+14155550141");
    const ofB = await seed(b, "+14155550142");
    const staff = async (role: string) => {
      const identity = `${role}-${crypto.randomUUID().slice(0, 8)}@clinic.example`;
      const response = await adminFetchWith(adminEnv, `/staff/${identity}`, {
        method: "PUT",
        body: JSON.stringify({ role, clinics: [a] }),
      });
      expect(response.status).toBe(200);
      return identity;
    };
    const viewer = await staff("viewer");
    const operator = await staff("operator");
    const as = (identity: string) => access.consoleAs(workerEnv, identity);

    const asViewer = await as(viewer);
    const markersOfB = [b, ofB.patientId, ofB.orderId, ofB.eventId, ofB.alertId, "0142"];
    for (const path of ["/console", "/console/events", "/console/alerts", "/console/audit"]) {
      const page = await asViewer(path);
      expect(page.status, path).toBe(200);
      const html = await page.text();
      for (const marker of markersOfB) expect(html, path).not.toContain(marker);
    }
    // A search by clinic B's order id (echoed in the search box) finds nothing.
    const search = await (await asViewer(`/console/events?q=${ofB.orderId}`)).text();
    expect(search).toContain("No events match.");
    expect(search).not.toContain(ofB.eventId);
    expect(await (await asViewer("/console/events")).text()).toContain(ofA.eventId);
    expect(await (await asViewer("/console/alerts")).text()).toContain(ofA.alertId);
    for (const path of [
      `/console/events/${ofB.eventId}`,
      `/console/orders/${ofB.orderId}`,
      `/console/patients/${ofB.patientId}?clinic=${b}`,
    ]) {
      const page = await asViewer(path);
      expect(page.status, path).toBe(404);
      const html = await page.text();
      for (const marker of markersOfB.slice(2)) expect(html, path).not.toContain(marker);
    }
    // Clinic A's patient: masked, and no reveal for a viewer (the button is absent and the POST refused).
    const patientPage = await asViewer(`/console/patients/${ofA.patientId}?clinic=${a}`);
    expect(patientPage.status).toBe(200);
    const patientHtml = await patientPage.text();
    expect(patientHtml).not.toContain("+14155550141");
    expect(patientHtml).not.toContain("Reveal phone");
    const csrf = csrfTokenOf(await (await asViewer("/console/events")).text());
    const refused = [
      await asViewer(`/console/patients/${ofA.patientId}/reveal?clinic=${a}`, { field: "phone", _csrf: csrf }),
      await asViewer(`/console/alerts/${ofA.alertId}/ack`, { _csrf: csrf }),
      await asViewer(`/console/events/${ofA.eventId}/replay`, { _csrf: csrf }),
    ];
    expect(refused.map((response) => response.status)).toEqual([403, 403, 403]);

    // An operator of clinic A reveals clinic A's patient and acknowledges its alert; clinic B's alert is unknown.
    const asOperator = await as(operator);
    const operatorCsrf = csrfTokenOf(await (await asOperator("/console/events")).text());
    const revealed = await asOperator(`/console/patients/${ofA.patientId}/reveal?clinic=${a}`, {
      field: "phone",
      _csrf: operatorCsrf,
    });
    expect(revealed.status).toBe(200);
    expect(await revealed.text()).toContain("+14155550141");
    expect((await asOperator(`/console/alerts/${ofB.alertId}/ack`, { _csrf: operatorCsrf })).status).toBe(404);
    const alertB = await env.DB.prepare(`SELECT acknowledged_by FROM alerts WHERE alert_id = ?1`)
      .bind(ofB.alertId)
      .first();
    expect(alertB).toEqual({ acknowledged_by: null });

    // An Access identity without a staff row gets 403.
    const stranger = await as(`stranger-${crypto.randomUUID().slice(0, 8)}@clinic.example`);
    expect((await stranger("/console/events")).status).toBe(403);
  });
});
