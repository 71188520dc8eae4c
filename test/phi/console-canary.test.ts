import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetch } from "../helpers/admin";
import { consoleFetch, signIn } from "../helpers/console";
import { makeEvent, uniqueId } from "../helpers/events";
import { CANARY, captureConsole, leakedCanaries } from "../helpers/phi-canary";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

describe("PHI canary: console", () => {
  it("keeps canaries out of the logs, the event pages, the order page and the masked patient page; a reveal logs no value", async () => {
    const patientId = uniqueId("pat");
    const orderId = uniqueId("ord");
    const put = await adminFetch(`/patients/${patientId}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ phone: CANARY.phone, email: CANARY.email, sms_opt_in: true, email_opt_in: true }),
    });
    expect(put.status).toBe(200);
    const event = makeEvent("order:shipped", {
      data: {
        order_id: orderId,
        patient_id: patientId,
        patient_name: CANARY.name,
        shipping_address: { line1: CANARY.address, city: CANARY.city, state: "CA", zip: "94102" },
      },
    });
    const invalid = makeEvent("order:shipped", { data: { order_id: { name: CANARY.name }, patient_id: patientId } });

    const capture = captureConsole();
    const pages: string[] = [];
    let revealed = "";
    try {
      await runBatch(EVENTS_QUEUE, [eventMessage(event), eventMessage(invalid)]);
      const { cookie, csrf } = await signIn();
      for (const path of [
        "/console",
        "/console/events",
        `/console/events?q=${patientId}`,
        `/console/events/${event.event_id}`,
        `/console/events/${invalid.event_id}`,
        `/console/orders/${orderId}`,
        `/console/patients/${patientId}`,
      ]) {
        const response = await consoleFetch(path, { cookie });
        expect(response.status, path).toBe(200);
        pages.push(await response.text());
      }
      const reveal = await consoleFetch(`/console/patients/${patientId}/reveal`, {
        cookie,
        form: { _csrf: csrf, field: "phone" },
      });
      revealed = await reveal.text();
    } finally {
      capture.stop();
    }

    expect(pages.at(-1)).toContain("+1•••••9876");
    expect(pages.at(-1)).toContain("z•••@example.org");
    expect(leakedCanaries(pages.join("\n"))).toEqual([]);
    // The reveal shows the number to the signed-in actor, and records who saw which field, without the value.
    expect(revealed).toContain(CANARY.phone);
    expect(revealed).toContain("z•••@example.org");
    const { results: audit } = await env.DB.prepare(
      `SELECT actor, action, target_type, target_id, outcome, detail FROM audit WHERE target_id = ?1 ORDER BY audit_id`,
    )
      .bind(patientId)
      .all();
    expect(audit.at(-1)).toEqual({
      actor: "token:admin",
      action: "patient.reveal_phone",
      target_type: "patient",
      target_id: patientId,
      outcome: "success",
      detail: null,
    });
    expect(leakedCanaries(JSON.stringify(audit))).toEqual([]);
    expect(leakedCanaries(capture.output())).toEqual([]);
  });
});
