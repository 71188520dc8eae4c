import { describe, expect, it } from "vitest";
import { twoClinicsBehindAccess, useAccessTeam } from "../helpers/access";
import { adminFetchWith, createClinicPatient, openClinicAlert } from "../helpers/clinics";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

const access = useAccessTeam(useMockNetwork());

describe("the console's clinic filter on the lists and the overview", () => {
  it("narrows events, alerts, audit and the overview to one clinic of the identity, and never beyond it", async () => {
    const { a, b, workerEnv, adminEnv } = twoClinicsBehindAccess();
    const seed = async (clinicId: string) => {
      const patientId = await createClinicPatient(adminEnv, clinicId);
      const event = makeEvent("order:shipped", {
        clinic_id: clinicId,
        data: { order_id: uniqueId("ord"), patient_id: patientId },
      });
      await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
      const alertId = await openClinicAlert(clinicId, event.event_id, { rule: "event_dead", targetType: "event" });
      return { patientId, eventId: event.event_id, alertId };
    };
    const ofA = await seed(a);
    const ofB = await seed(b);
    const as = async (identity: string) => {
      const fetchPage = await access.consoleAs(workerEnv, identity);
      return async (path: string) => {
        const response = await fetchPage(path);
        expect(response.status, path).toBe(200);
        return response.text();
      };
    };

    // An admin of every clinic sees both unfiltered, and one with the filter.
    const asAdmin = await as("a@clinic.example");
    const everyEvent = await asAdmin("/console/events");
    expect(everyEvent).toContain(ofA.eventId);
    expect(everyEvent).toContain(ofB.eventId);
    expect(everyEvent).toContain(`<option value="${b}">`);
    const pages = {
      events: await asAdmin(`/console/events?clinic=${a}`),
      alerts: await asAdmin(`/console/alerts?clinic=${a}`),
      audit: await asAdmin(`/console/audit?target_type=patient&clinic=${a}`),
      overview: await asAdmin(`/console?clinic=${a}`),
    };
    expect(pages.events).toContain(ofA.eventId);
    expect(pages.events).not.toContain(ofB.eventId);
    expect(pages.alerts).toContain(ofA.alertId);
    expect(pages.alerts).not.toContain(ofB.alertId);
    expect(pages.audit).toContain(ofA.patientId);
    expect(pages.audit).not.toContain(ofB.patientId);
    expect(pages.overview).toContain(`<option value="${a}" selected="">`);
    expect(pages.overview).toContain(`/console/alerts?clinic=${a}`);

    // A viewer of clinic A choosing clinic B gets nothing of it, and is offered clinic A only.
    const viewer = `viewer-${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    await adminFetchWith(adminEnv, `/staff/${viewer}`, {
      method: "PUT",
      body: JSON.stringify({ role: "viewer", clinics: [a] }),
    });
    const asViewer = await as(viewer);
    const chosenB = await asViewer(`/console/events?clinic=${b}`);
    expect(chosenB).not.toContain(ofB.eventId);
    expect(chosenB).not.toContain(ofA.eventId);
    expect(chosenB).not.toContain(`<option value="${b}"`);
    expect(await asViewer(`/console/alerts?clinic=${b}`)).not.toContain(ofB.alertId);
  });
});
