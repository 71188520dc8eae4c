import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetchWith, createClinicPatient, twoClinicEnv } from "../helpers/clinics";
import { CLINIC_ID, makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { applyAndCaptureJobs, mockProviders, notificationsOf, providerEnv, runSender } from "../helpers/notifications";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";

const server = useMockNetwork();

function clinics() {
  const a = crypto.randomUUID();
  const b = crypto.randomUUID();
  return { a, b, workerEnv: twoClinicEnv({ NOVAMED_CLINIC_IDS: `${a},${b}` }) };
}

const json = (body: unknown): RequestInit => ({ method: "PUT", body: JSON.stringify(body) });
const PATIENT = { phone: "+14155550501", email: null, timezone: null, sms_opt_in: true, email_opt_in: false };

function shipped(clinicId: string, patientId: string, orderId = uniqueId("ord")) {
  return makeEvent("order:shipped", { clinic_id: clinicId, data: { order_id: orderId, patient_id: patientId } });
}

/** A directory row from before patients belonged to clinics (migration 0047 leaves them unassigned). */
async function unassignedPatient(phone: string) {
  const patientId = uniqueId("pat");
  await env.DB.prepare(
    `INSERT INTO patients (clinic_id, patient_id, phone, email, timezone, sms_opt_in, email_opt_in, created_at, updated_at)
VALUES ('', ?1, ?2, NULL, NULL, 1, 0, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')`,
  )
    .bind(patientId, phone)
    .run();
  return patientId;
}

describe("the patient directory is keyed by (clinic, patient id)", () => {
  it("keeps each clinic's entry for the same patient id apart: PUT, GET, DELETE, audit", async () => {
    const { a, b, workerEnv } = clinics();
    const patientId = uniqueId("pat");
    await createClinicPatient(workerEnv, a, { ...PATIENT, phone: "+14155550511" }, patientId);
    await createClinicPatient(workerEnv, b, { ...PATIENT, phone: "+14155550512" }, patientId);
    const readA = await adminFetchWith(workerEnv, `/clinics/${a}/patients/${patientId}`);
    expect(await readA.json()).toMatchObject({ clinic_id: a, patient_id: patientId, phone: "+14155550511" });
    const readB = await adminFetchWith(workerEnv, `/clinics/${b.toUpperCase()}/patients/${patientId}`);
    expect(await readB.json()).toMatchObject({ clinic_id: b, phone: "+14155550512" });

    expect((await adminFetchWith(workerEnv, `/clinics/${a}/patients/${patientId}`, { method: "DELETE" })).status).toBe(
      204,
    );
    expect((await adminFetchWith(workerEnv, `/clinics/${a}/patients/${patientId}`)).status).toBe(404);
    expect((await adminFetchWith(workerEnv, `/clinics/${b}/patients/${patientId}`)).status).toBe(200);

    const audit = await env.DB.prepare(
      `SELECT action, target_id, clinic_id FROM audit WHERE target_id = ?1 ORDER BY audit_id`,
    )
      .bind(patientId)
      .all();
    expect(audit.results).toEqual([
      { action: "patient.upsert", target_id: patientId, clinic_id: a },
      { action: "patient.upsert", target_id: patientId, clinic_id: b },
      { action: "patient.read", target_id: patientId, clinic_id: a },
      { action: "patient.read", target_id: patientId, clinic_id: b },
      { action: "patient.delete", target_id: patientId, clinic_id: a },
      { action: "patient.read", target_id: patientId, clinic_id: a },
      { action: "patient.read", target_id: patientId, clinic_id: b },
    ]);
  });

  it("answers 404 for a clinic outside NOVAMED_CLINIC_IDS", async () => {
    const { workerEnv } = clinics();
    const response = await adminFetchWith(workerEnv, `/clinics/${crypto.randomUUID()}/patients/pat_1`, json(PATIENT));
    expect(response.status).toBe(404);
  });

  it("the old routes answer 400 clinic_required with several clinics, and keep working with one", async () => {
    const { workerEnv } = clinics();
    for (const init of [json(PATIENT), {}, { method: "DELETE" }]) {
      const response = await adminFetchWith(workerEnv, "/patients/pat_old_route", init);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("clinic_required");
    }
    const single = providerEnv();
    const patientId = uniqueId("pat");
    expect((await adminFetchWith(single, `/patients/${patientId}`, json(PATIENT))).status).toBe(200);
    const row = await env.DB.prepare(`SELECT clinic_id FROM patients WHERE patient_id = ?1`).bind(patientId).first();
    expect(row).toEqual({ clinic_id: CLINIC_ID });
  });

  it("imports CSV rows into the clinic each names; a row without one needs a single clinic", async () => {
    const { a, b, workerEnv } = clinics();
    const [p1, p2, p3, p4] = [uniqueId("pat"), uniqueId("pat"), uniqueId("pat"), uniqueId("pat")];
    const csv = [
      "clinic_id,patient_id,phone,sms_opt_in,email_opt_in",
      `${a},${p1},+14155550521,yes,no`,
      `${b.toUpperCase()},${p2},+14155550522,yes,no`,
      `${crypto.randomUUID()},${p3},+14155550523,yes,no`,
      `,${p4},+14155550524,yes,no`,
    ].join("\n");
    const response = await adminFetchWith(workerEnv, "/patients/import", {
      method: "POST",
      headers: { "content-type": "text/csv" },
      body: csv,
    });
    expect(await response.json()).toEqual({
      imported: 2,
      failed: 2,
      errors: [
        { row: 3, issues: [{ path: "clinic_id", message: "is not a clinic this receiver serves" }] },
        { row: 4, issues: [{ path: "clinic_id", message: "is required when several clinics are configured" }] },
      ],
    });
    expect((await adminFetchWith(workerEnv, `/clinics/${a}/patients/${p1}`)).status).toBe(200);
    expect((await adminFetchWith(workerEnv, `/clinics/${b}/patients/${p1}`)).status).toBe(404);
    expect((await adminFetchWith(workerEnv, `/clinics/${b}/patients/${p2}`)).status).toBe(200);
  });
});

describe("an event of one clinic never uses another clinic's directory entry", () => {
  it("suppresses as unknown patient when only the other clinic knows the patient id", async () => {
    mockProviders(server);
    const { a, b, workerEnv } = clinics();
    const patientId = await createClinicPatient(workerEnv, a);
    const ofA = shipped(a, patientId);
    const ofB = shipped(b, patientId);
    await runSender(await applyAndCaptureJobs([ofA, ofB]), { workerEnv });
    expect((await notificationsOf(ofA.event_id)).sms).toMatchObject({ status: "sent" });
    expect(await notificationsOf(ofB.event_id)).toMatchObject({
      sms: { status: "suppressed", error: "unknown patient" },
      email: { status: "suppressed", error: "unknown patient" },
    });
  });

  it("reads unassigned rows (from before clinics) as the only clinic's; with several, as nobody's", async () => {
    mockProviders(server);
    const phone = "+14155550531";
    const patientId = await unassignedPatient(phone);
    const single = providerEnv();
    expect(await (await adminFetchWith(single, `/patients/${patientId}`)).json()).toMatchObject({
      clinic_id: CLINIC_ID,
      phone,
    });
    const ofSingle = shipped(CLINIC_ID, patientId);
    await runSender(await applyAndCaptureJobs([ofSingle]), { workerEnv: single });
    expect((await notificationsOf(ofSingle.event_id)).sms).toMatchObject({ status: "sent" });

    const { a, workerEnv } = clinics();
    expect((await adminFetchWith(workerEnv, `/clinics/${a}/patients/${patientId}`)).status).toBe(404);
    const ofA = shipped(a, patientId);
    await runSender(await applyAndCaptureJobs([ofA]), { workerEnv });
    expect((await notificationsOf(ofA.event_id)).sms).toMatchObject({ status: "suppressed", error: "unknown patient" });
    const health = (await (await adminFetchWith(workerEnv, "/health")).json()) as { problems: { variable: string }[] };
    expect(health.problems).toContainEqual(
      expect.objectContaining({
        variable: "NOVAMED_CLINIC_IDS",
        problem: expect.stringMatching(/patients have no clinic/),
      }),
    );

    // With one clinic, writing the patient takes the unassigned row over: no stale copy remains.
    await adminFetchWith(single, `/patients/${patientId}`, json({ ...PATIENT, phone }));
    const rows = await env.DB.prepare(`SELECT clinic_id FROM patients WHERE patient_id = ?1`).bind(patientId).all();
    expect(rows.results).toEqual([{ clinic_id: CLINIC_ID }]);
  });
});

describe("an entity never changes clinic", () => {
  it("ends another clinic's event for the entity invalid with clinic_mismatch, unapplied, and opens an alert", async () => {
    const { a, b } = clinics();
    const orderId = uniqueId("ord");
    const created = makeEvent("order:created", { clinic_id: a, data: { order_id: orderId } });
    const foreign = shipped(b, "pat_67890", orderId);
    await runBatch(EVENTS_QUEUE, [eventMessage(created)]);
    await runBatch(EVENTS_QUEUE, [eventMessage(foreign)]);
    const row = await eventRow(foreign.event_id);
    expect(row).toMatchObject({ status: "invalid" });
    expect(JSON.parse(String(row?.issues))).toEqual([
      expect.objectContaining({ path: "clinic_id", code: "clinic_mismatch" }),
    ]);
    const order = await env.DB.prepare(`SELECT clinic_id, status FROM orders WHERE order_id = ?1`)
      .bind(orderId)
      .first();
    expect(order).toEqual({ clinic_id: a, status: "created" });
    const alert = await env.DB.prepare(`SELECT rule, target_type, clinic_id, state FROM alerts WHERE target_id = ?1`)
      .bind(foreign.event_id)
      .first();
    expect(alert).toEqual({ rule: "clinic_mismatch", target_type: "event", clinic_id: b, state: "open" });
    expect(
      await env.DB.prepare(`SELECT 1 FROM notifications WHERE event_id = ?1`).bind(foreign.event_id).first(),
    ).toBeNull();
  });

  it("opens no alert again for a redelivery of the refused event, once the first was resolved", async () => {
    const { a, b } = clinics();
    const orderId = uniqueId("ord");
    const foreign = shipped(b, "pat_67890", orderId);
    await runBatch(EVENTS_QUEUE, [
      eventMessage(makeEvent("order:created", { clinic_id: a, data: { order_id: orderId } })),
    ]);
    await runBatch(EVENTS_QUEUE, [eventMessage(foreign)]);
    await env.DB.prepare(`UPDATE alerts SET state = 'resolved' WHERE target_id = ?1`).bind(foreign.event_id).run();
    const again = await runBatch(EVENTS_QUEUE, [eventMessage(foreign, 2)]);
    expect(again.explicitAcks).toHaveLength(1);
    const alerts = await env.DB.prepare(`SELECT state FROM alerts WHERE target_id = ?1`).bind(foreign.event_id).all();
    expect(alerts.results).toEqual([{ state: "resolved" }]);
  });

  it("decides a new entity's clinic by the first event of a batch", async () => {
    const { a, b } = clinics();
    const orderId = uniqueId("ord");
    const first = makeEvent("order:created", { clinic_id: a, data: { order_id: orderId } });
    const second = makeEvent("order:processing", { clinic_id: b, data: { order_id: orderId } });
    await runBatch(EVENTS_QUEUE, [eventMessage(first), eventMessage(second)]);
    expect(await eventRow(first.event_id)).toMatchObject({ status: "processed" });
    expect(await eventRow(second.event_id)).toMatchObject({ status: "invalid" });
    const order = await env.DB.prepare(`SELECT clinic_id, status FROM orders WHERE order_id = ?1`)
      .bind(orderId)
      .first();
    expect(order).toEqual({ clinic_id: a, status: "created" });
  });
});
