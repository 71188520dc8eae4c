import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetch } from "../helpers/admin";
import { consoleFetch, signIn } from "../helpers/console";
import { makeEvent, uniqueId } from "../helpers/events";
import { postTwilio } from "../helpers/notifications";
import { CANARY, captureConsole, leakedCanaries } from "../helpers/phi-canary";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

describe("PHI canary: console", () => {
  it("keeps canaries out of the logs, the event pages, the order page, the alerts and the masked patient page; a reveal or a reply's page logs no value", async () => {
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
    let replyPage = "";
    try {
      await runBatch(EVENTS_QUEUE, [eventMessage(event), eventMessage(invalid)]);
      // The patient texts back (a reply for a person): its alert is listed, its page is an operator's read.
      await postTwilio("inbound", { From: CANARY.phone, To: "+14155550100", Body: `${CANARY.medication} ran out` });
      const reply = await env.DB.prepare(`SELECT reply_id FROM inbound_replies WHERE phone = ?1`)
        .bind(CANARY.phone)
        .first<{ reply_id: string }>();
      const { cookie, csrf } = await signIn();
      replyPage = await (await consoleFetch(`/console/inbound-replies/${reply?.reply_id}`, { cookie })).text();
      for (const path of [
        "/console/alerts?rule=patient_replied",
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
    // The reply's page shows the operator what was written and from which number; its audit row neither.
    expect(replyPage).toContain(`${CANARY.medication} ran out`);
    expect(replyPage).toContain(CANARY.phone);
    const { results: replyAudit } = await env.DB.prepare(
      `SELECT * FROM audit WHERE target_type = 'inbound_reply'`,
    ).all();
    expect(replyAudit).toHaveLength(1);
    expect(leakedCanaries(JSON.stringify(replyAudit))).toEqual([]);
    expect(leakedCanaries(capture.output())).toEqual([]);
  });
});
