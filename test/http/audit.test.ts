import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { accessClaims, accessEnv, generateAccessKeys, serveAccessKeys, signAccessToken } from "../helpers/access";
import { adminFetch, adminJson, randomClientAddress } from "../helpers/admin";
import { auditlessDatabase, auditRowsOf, onlyAuditRowOf } from "../helpers/audit";
import { ADMIN_TOKEN, makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

const server = useMockNetwork();

const json = (body: unknown, method = "PUT"): RequestInit => ({
  method,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});
const contact = {
  phone: "+14155550142",
  email: "pat@example.org",
  timezone: null,
  sms_opt_in: true,
  email_opt_in: true,
};

async function storedEvent(type: string, overrides: Record<string, unknown> = {}) {
  const event = makeEvent(type, overrides);
  await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
  return event;
}

describe("the audit trail of the admin API", () => {
  it("patient read, upsert and delete: one row each with actor, action, target, request id, time, outcome", async () => {
    const id = uniqueId("pat");
    const responses = [
      await adminFetch(`/patients/${id}`, json(contact)),
      await adminFetch(`/patients/${id}`),
      await adminFetch(`/patients/${id}`, { method: "DELETE" }),
      await adminFetch(`/patients/${id}`),
    ];
    expect(responses.map((response) => response.status)).toEqual([200, 200, 204, 404]);
    const rows = await auditRowsOf("patient", id);
    expect(rows.map((row) => [row.action, row.outcome, row.status])).toEqual([
      ["patient.upsert", "success", 200],
      ["patient.read", "success", 200],
      ["patient.delete", "success", 204],
      ["patient.read", "not_found", 404],
    ]);
    for (const [index, row] of rows.entries()) {
      expect(row).toMatchObject({
        actor: "token:admin",
        target_type: "patient",
        target_id: id,
        request_id: responses[index]?.headers.get("x-request-id"),
      });
      expect(row.at).toBe(new Date().toISOString());
    }
  });

  it("records a refused change as rejected", async () => {
    const id = uniqueId("pat");
    expect((await adminFetch(`/patients/${id}`, json({ ...contact, phone: "555" }))).status).toBe(400);
    expect(await onlyAuditRowOf("patient", id)).toMatchObject({
      action: "patient.upsert",
      outcome: "rejected",
      status: 400,
    });
  });

  it("patient import: one row for the whole import, with counts and no contact details", async () => {
    const rows = [
      { patient_id: uniqueId("imp"), ...contact },
      { patient_id: uniqueId("imp"), ...contact, phone: "bad" },
    ];
    const response = await adminFetch("/patients/import", {
      ...json(rows, "POST"),
      headers: { "content-type": "application/json" },
    });
    expect(response.status).toBe(200);
    const requestId = response.headers.get("x-request-id");
    const imports = (await auditRowsOf("patient", "*")).filter((row) => row.request_id === requestId);
    expect(imports).toHaveLength(1);
    expect(imports[0]).toMatchObject({ action: "patient.import", outcome: "success" });
    expect(JSON.parse(imports[0]?.detail ?? "null")).toEqual({ imported: 1, failed: 1 });
  });

  it("event detail and replay", async () => {
    const event = await storedEvent("order:created");
    expect((await adminFetch(`/events/${event.event_id}`)).status).toBe(200);
    expect((await adminFetch(`/events/${event.event_id}/replay`, { method: "POST" })).status).toBe(409);
    expect((await adminFetch(`/events/${event.event_id}/replay?force=true`, { method: "POST" })).status).toBe(202);
    // Each row records the event's clinic, so a clinic-limited identity sees them in the audit list.
    expect((await auditRowsOf("event", event.event_id)).map((row) => [row.action, row.outcome, row.clinic_id])).toEqual(
      [
        ["event.read", "success", event.clinic_id],
        ["event.replay", "rejected", event.clinic_id],
        ["event.replay", "success", event.clinic_id],
      ],
    );
  });

  it.each([
    ["order", "order:shipped", "order_id", "orders"],
    ["medication_request", "medication_request:approved", "medication_request_id", "medication-requests"],
    ["refill", "refill:requested", "refill_id", "refills"],
  ])("%s detail", async (kind, type, idField, path) => {
    const entityId = uniqueId(kind);
    await storedEvent(type, { data: { [idField]: entityId } });
    expect((await adminFetch(`/${path}/${entityId}`)).status).toBe(200);
    expect(await onlyAuditRowOf(kind, entityId)).toMatchObject({ action: `${kind}.read`, outcome: "success" });
  });

  it("names the Access user as the actor", async () => {
    const keys = await generateAccessKeys();
    serveAccessKeys(server, keys);
    const id = uniqueId("pat");
    await adminFetch(`/patients/${id}`, json(contact));
    const assertion = await signAccessToken(keys, accessClaims("Nurse.Jones@Clinic.example"));
    const response = await worker.fetch(
      new Request(`https://receiver.test/admin/patients/${id}`, {
        headers: { "cf-access-jwt-assertion": assertion, "cf-connecting-ip": randomClientAddress() },
      }),
      accessEnv(),
    );
    expect(response.status).toBe(200);
    expect((await auditRowsOf("patient", id)).at(-1)).toMatchObject({
      actor: "nurse.jones@clinic.example",
      action: "patient.read",
    });
  });

  it("a read whose audit row cannot be written answers 503 without the data", async () => {
    const id = uniqueId("pat");
    await adminFetch(`/patients/${id}`, json(contact));
    const failingDb = auditlessDatabase();
    vi.spyOn(console, "error").mockImplementation(() => {});
    const response = await worker.fetch(
      new Request(`https://receiver.test/admin/patients/${id}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "cf-connecting-ip": randomClientAddress() },
      }),
      { ...env, DB: failingDb } as Env,
    );
    expect(response.status).toBe(503);
    const body = await response.text();
    expect(JSON.parse(body)).toMatchObject({ error: { code: "audit_unavailable" } });
    expect(body).not.toContain(contact.phone);
  });

  it("no audit row for a caller who could not authenticate", async () => {
    const id = uniqueId("pat");
    expect((await adminFetch(`/patients/${id}`, {}, null)).status).toBe(401);
    expect(await auditRowsOf("patient", id)).toEqual([]);
  });
});

describe("GET /admin/audit", () => {
  it("lists newest first, filtered by target and actor, a page at a time", async () => {
    const id = uniqueId("pat");
    await adminFetch(`/patients/${id}`, json(contact));
    await adminFetch(`/patients/${id}`);
    await adminFetch(`/patients/${id}`, { method: "DELETE" });
    const first = await adminJson<{ entries: { action: string; audit_id: number }[]; next_cursor: string | null }>(
      `/audit?target_type=patient&target_id=${id}&limit=2`,
    );
    expect(first.status).toBe(200);
    expect(first.body.entries.map((entry) => entry.action)).toEqual(["patient.delete", "patient.read"]);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await adminJson<{ entries: { action: string }[]; next_cursor: string | null }>(
      `/audit?target_type=patient&target_id=${id}&limit=2&cursor=${first.body.next_cursor}`,
    );
    expect(second.body).toEqual({
      entries: [expect.objectContaining({ action: "patient.upsert" })],
      next_cursor: null,
    });
    const byActor = await adminJson<{ entries: { actor: string }[] }>("/audit?actor=token:admin&limit=100");
    expect(byActor.body.entries.length).toBeGreaterThan(0);
    expect(byActor.body.entries.every((entry) => entry.actor === "token:admin")).toBe(true);
    const nobody = await adminJson<{ entries: unknown[] }>("/audit?actor=nobody@clinic.example");
    expect(nobody.body.entries).toEqual([]);
  });

  it.each([["limit=0"], ["limit=101"], ["cursor=not-a-cursor"], ["actor="]])(
    "400 invalid_query for %s, with no-store",
    async (query) => {
      const response = await adminFetch(`/audit?${query}`);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: "invalid_query" } });
      expect(response.headers.get("cache-control")).toBe("no-store");
    },
  );

  it("needs an identity like every admin route", async () => {
    expect((await adminFetch("/audit", {}, null)).status).toBe(401);
  });
});
