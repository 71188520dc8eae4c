import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { adminFetch } from "../helpers/admin";
import { auditlessDatabase, auditRowsOf, onlyAuditRowOf } from "../helpers/audit";
import { consoleFetch, signIn } from "../helpers/console";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

describe("the audit trail of the console", () => {
  it("records the patient page and each reveal (which field, never the value)", async () => {
    const patientId = uniqueId("pat");
    await adminFetch(`/patients/${patientId}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ phone: "+14155550188", email: "p@example.org", sms_opt_in: true, email_opt_in: true }),
    });
    const { cookie, csrf } = await signIn();
    expect((await consoleFetch(`/console/patients/${patientId}`, { cookie })).status).toBe(200);
    for (const field of ["phone", "email"]) {
      const reveal = await consoleFetch(`/console/patients/${patientId}/reveal`, {
        cookie,
        form: { _csrf: csrf, field },
      });
      expect(reveal.status).toBe(200);
    }
    const rows = await auditRowsOf("patient", patientId);
    expect(rows.map((row) => [row.actor, row.action, row.outcome])).toEqual([
      ["token:admin", "patient.upsert", "success"],
      ["token:admin", "patient.read", "success"],
      ["token:admin", "patient.reveal_phone", "success"],
      ["token:admin", "patient.reveal_email", "success"],
    ]);
  });

  it("records the entity page, the event page and a replay", async () => {
    const orderId = uniqueId("ord");
    const event = makeEvent("order:created", { data: { order_id: orderId } });
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    const { cookie, csrf } = await signIn();
    expect((await consoleFetch(`/console/orders/${orderId}`, { cookie })).status).toBe(200);
    expect(await onlyAuditRowOf("order", orderId)).toMatchObject({ action: "order.read", outcome: "success" });
    expect((await consoleFetch(`/console/events/${event.event_id}`, { cookie })).status).toBe(200);
    const replay = await consoleFetch(`/console/events/${event.event_id}/replay`, {
      cookie,
      form: { _csrf: csrf, force: "true", confirm: "yes" },
    });
    expect(replay.status).toBe(303);
    expect((await auditRowsOf("event", event.event_id)).map((row) => [row.action, row.outcome])).toEqual([
      ["event.read", "success"],
      ["event.replay", "success"],
    ]);
  });
  it("records a bulk replay with the count replayed, and a refused one with none", async () => {
    const invalid = makeEvent("refill:approved", { data: { refill_id: 42 } });
    await runBatch(EVENTS_QUEUE, [eventMessage(invalid)]);
    vi.spyOn(env.EVENTS, "sendBatch").mockResolvedValue(undefined as never);
    const { cookie, csrf } = await signIn();
    const newestBulkReplay = async () =>
      env.DB.prepare(
        `SELECT actor, target_type, target_id, outcome, status, detail FROM audit WHERE action = 'event.bulk_replay' ORDER BY audit_id DESC LIMIT 1`,
      ).first();
    for (const [fields, replayed] of [
      [
        [
          ["scope", "selected"],
          ["event_id", invalid.event_id],
        ],
        1,
      ],
      [[["scope", "selected"]], 0],
    ] as [[string, string][], number][]) {
      const response = await consoleFetch("/console/events/replay", { cookie, form: [["_csrf", csrf], ...fields] });
      expect(response.status).toBe(303);
      expect(await newestBulkReplay()).toEqual({
        actor: "token:admin",
        target_type: "event",
        target_id: "*",
        outcome: "success",
        status: 303,
        detail: JSON.stringify({ replayed }),
      });
    }
  });
});

describe("a reveal whose audit row cannot be written", () => {
  it("shows nothing", async () => {
    const patientId = uniqueId("pat");
    const phone = "+14155550166";
    await adminFetch(`/patients/${patientId}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ phone, email: null, sms_opt_in: true, email_opt_in: false }),
    });
    const auditless = auditlessDatabase();
    const fetcher = async (request: Request) => worker.fetch(request, { ...env, DB: auditless } as Env);
    const { cookie, csrf } = await signIn(fetcher);
    vi.spyOn(console, "error").mockImplementation(() => {});
    const reveal = await consoleFetch(
      `/console/patients/${patientId}/reveal`,
      { cookie, form: { _csrf: csrf, field: "phone" } },
      fetcher,
    );
    expect(reveal.status).toBe(500);
    expect(await reveal.text()).not.toContain(phone);
  });
});
