import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { accessEnv, twoClinicsBehindAccess, useAccessTeam } from "../helpers/access";
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

describe("the search and the list pages stay within the identity's clinics", () => {
  it("a viewer of clinic A finds clinic A's patient, order and ids, never clinic B's, and sees contacts masked", async () => {
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    // Access for people, the admin token kept for scripts (and as the search index's key).
    const workerEnv = accessEnv({ NOVAMED_CLINIC_IDS: `${a},${b}` });
    const seed = async (clinicId: string, line: string) => {
      const patientId = await createClinicPatient(workerEnv, clinicId, {
        phone: `+1415555${line}`,
        email: `shared-${line}@example.org`,
      });
      const orderId = uniqueId("ord");
      const tracking = `1Z${line}${crypto.randomUUID().replaceAll("-", "").slice(0, 10).toUpperCase()}`;
      const event = makeEvent("order:shipped", {
        clinic_id: clinicId,
        data: { order_id: orderId, patient_id: patientId, tracking_number: tracking },
      });
      await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
      return { patientId, orderId, eventId: event.event_id, tracking, national: `(415) 555-${line}` };
    };
    const ofA = await seed(a, "0151");
    const ofB = await seed(b, "0152");
    const viewer = `viewer-${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    const put = await adminFetchWith(workerEnv, `/staff/${viewer}`, {
      method: "PUT",
      body: JSON.stringify({ role: "viewer", clinics: [a] }),
    });
    expect(put.status).toBe(200);
    const asViewer = await access.consoleAs(workerEnv, viewer);
    // Both forms of the API's search (GET ?q=, and POST {"q"}, a read a viewer may make) answer alike.
    const adminSearch = async (q: string) => {
      const [byGet, byPost] = [
        await access.adminFetch(workerEnv, viewer, `/search?q=${encodeURIComponent(q)}`),
        await access.adminFetch(workerEnv, viewer, "/search", { method: "POST", body: JSON.stringify({ q }) }),
      ];
      expect([byGet.status, byPost.status]).toEqual([200, 200]);
      const [got, posted] = [await byGet.json(), await byPost.json()];
      expect(posted).toEqual(got);
      return (got as { results: { kind: string; id: string }[] }).results;
    };
    // The console's header box posts its text with the page's CSRF token.
    const csrf = csrfTokenOf(await (await asViewer("/console")).text());
    const consoleSearch = async (q: string) => (await asViewer("/console/search", { q, _csrf: csrf })).text();

    // Clinic A's: found by phone, email, tracking number and id prefix, through the API and the console.
    expect(await adminSearch(ofA.national)).toContainEqual(
      expect.objectContaining({ kind: "patient", id: ofA.patientId }),
    );
    expect(await adminSearch("SHARED-0151@example.org")).toContainEqual(
      expect.objectContaining({ kind: "patient", id: ofA.patientId }),
    );
    expect(await adminSearch(ofA.tracking.toLowerCase())).toContainEqual(
      expect.objectContaining({ kind: "order", id: ofA.orderId }),
    );
    expect(await adminSearch(ofA.eventId.slice(0, 10))).toContainEqual(
      expect.objectContaining({ kind: "event", id: ofA.eventId }),
    );
    const found = await (await asViewer(`/console/search?q=${encodeURIComponent(ofA.national)}`)).text();
    expect(found).toContain(ofA.patientId);
    expect(await consoleSearch(ofA.national)).toContain(ofA.patientId);

    // Clinic B's: nothing, by any of the same.
    const markersOfB = [ofB.patientId, ofB.orderId, ofB.eventId, b];
    for (const q of [ofB.national, "shared-0152@example.org", ofB.tracking, ofB.eventId, ofB.orderId, ofB.patientId]) {
      expect(await adminSearch(q), q).toEqual([]);
      const page = await (await asViewer(`/console/search?q=${encodeURIComponent(q)}`)).text();
      const posted = await consoleSearch(q);
      for (const marker of markersOfB) {
        expect(page, q).not.toContain(marker);
        expect(posted, q).not.toContain(marker);
      }
    }

    // The list pages: clinic A's rows only, contact details masked.
    const lists = ["/console/patients", "/console/orders", "/console/notifications", "/console/orders?status=shipped"];
    for (const path of [...lists, `/console/patients?clinic=${b}`]) {
      const page = await asViewer(path);
      expect(page.status, path).toBe(200);
      const html = await page.text();
      for (const marker of [...markersOfB, "0152"]) expect(html, path).not.toContain(marker);
      expect(html, path).not.toContain("+14155550151");
      expect(html, path).not.toContain("shared-0151@");
    }
    expect(await (await asViewer("/console/patients")).text()).toContain(ofA.patientId);
    expect(await (await asViewer("/console/orders")).text()).toContain(ofA.orderId);
  });
});
