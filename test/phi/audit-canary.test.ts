import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetch } from "../helpers/admin";
import { consoleFetch, signIn } from "../helpers/console";
import { makeEvent, uniqueId } from "../helpers/events";
import { CANARY, captureConsole, leakedCanaries } from "../helpers/phi-canary";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

describe("PHI canary: the audit trail", () => {
  it("audit rows, the audit list and the logs name ids, never the patient data that was read or changed", async () => {
    const patientId = uniqueId("pat");
    const orderId = uniqueId("ord");
    const medicationRequestId = uniqueId("mr");
    const capture = captureConsole();
    try {
      const contact = { phone: CANARY.phone, email: CANARY.email, sms_opt_in: true, email_opt_in: true };
      const json = { "content-type": "application/json" };
      await adminFetch(`/patients/${patientId}`, { method: "PUT", headers: json, body: JSON.stringify(contact) });
      await adminFetch("/patients/import", {
        method: "POST",
        headers: { "content-type": "text/csv" },
        body: `patient_id,phone,email,timezone,sms_opt_in,email_opt_in\n${uniqueId("imp")},${CANARY.phone},${CANARY.email},,true,true\n${CANARY.name},${CANARY.phone},not-an-email,,true,true\n`,
      });
      await runBatch(EVENTS_QUEUE, [
        eventMessage(
          makeEvent("order:shipped", {
            data: {
              order_id: orderId,
              patient_id: patientId,
              patient_name: CANARY.name,
              shipping_address: { line1: CANARY.address, city: CANARY.city, state: "CA", zip: "94102" },
            },
          }),
        ),
        eventMessage(
          makeEvent("medication_request:approved", {
            data: {
              medication_request_id: medicationRequestId,
              patient_id: patientId,
              medication_name: CANARY.medication,
            },
          }),
        ),
      ]);
      for (const path of [
        `/patients/${patientId}`,
        `/orders/${orderId}`,
        `/medication-requests/${medicationRequestId}`,
      ]) {
        expect((await adminFetch(path)).status, path).toBe(200);
      }
      const { cookie, csrf } = await signIn();
      await consoleFetch(`/console/patients/${patientId}`, { cookie });
      await consoleFetch(`/console/patients/${patientId}/reveal`, { cookie, form: { _csrf: csrf, field: "email" } });
      await consoleFetch(`/console/orders/${orderId}`, { cookie });

      const { results } = await env.DB.prepare("SELECT * FROM audit").all();
      expect(results.length).toBeGreaterThanOrEqual(8);
      expect(leakedCanaries(JSON.stringify(results))).toEqual([]);
      const list = await adminFetch("/audit?limit=100");
      const listed = await list.text();
      expect(listed).toContain(patientId);
      expect(listed).toContain("patient.reveal_email");
      expect(leakedCanaries(listed)).toEqual([]);
    } finally {
      capture.stop();
    }
    expect(leakedCanaries(capture.output())).toEqual([]);
  });
});
