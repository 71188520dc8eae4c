import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { recordRejection } from "../../src/db/rejections";
import { accessEnv } from "../helpers/access";
import { adminFetchWith, createClinicPatient } from "../helpers/clinics";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";
import { addStaff, twoClinicAccess, useAccessTeam } from "../helpers/staff";

const access = useAccessTeam();

const json = (body: unknown): RequestInit => ({ method: "PUT", body: JSON.stringify(body) });

describe("routes of the whole deployment answer an identity of some clinics for its clinics only", () => {
  it("GET /admin/health names the identity's clinics without a key, and not other clinics' problems", async () => {
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    const c = crypto.randomUUID();
    const key = crypto.randomUUID().replaceAll("-", "");
    const workerEnv = accessEnv({
      NOVAMED_CLINIC_IDS: `${a},${b},${c}`,
      NOVAMED_WEBHOOK_KEYS: JSON.stringify({ [c]: [key] }),
    });
    // A directory row of no clinic: with several clinics configured, a problem of the whole deployment.
    await env.DB.prepare(
      `INSERT INTO patients (clinic_id, patient_id, sms_opt_in, email_opt_in, created_at, updated_at)
       VALUES ('', ?1, 0, 0, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`,
    )
      .bind(uniqueId("pat"))
      .run();
    const viewerOfA = await access.signedIn(workerEnv, await addStaff(workerEnv, "viewer", [a]));
    const response = await viewerOfA("/admin/health");
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain(`has no key for clinic ${a}`);
    expect(text).not.toContain(b);
    expect(text).not.toContain("patients have no clinic");

    const everything = await (await adminFetchWith(workerEnv, "/health")).text();
    expect(everything).toContain(`has no key for clinic ${b}`);
    expect(everything).toContain("patients have no clinic");
  });

  it("/admin/staff: an admin of clinic A sees and manages clinic A's staff only", async () => {
    const { a, b, workerEnv } = twoClinicAccess();
    const adminOfA = await addStaff(workerEnv, "admin", [a]);
    const ofA = await addStaff(workerEnv, "viewer", [a]);
    const ofB = await addStaff(workerEnv, "operator", [b]);
    const ofBoth = await addStaff(workerEnv, "viewer", [a, b]);
    const asAdminOfA = await access.signedIn(workerEnv, adminOfA);

    const list = await asAdminOfA("/admin/staff");
    expect(list.status).toBe(200);
    const text = await list.text();
    const { staff } = JSON.parse(text) as { staff: { identity: string; clinics: string[] | "all" }[] };
    const identities = staff.map((member) => member.identity);
    expect(identities).toEqual(expect.arrayContaining([adminOfA, ofA, ofBoth]));
    expect(identities).not.toContain(ofB);
    // A row of both clinics shows clinic A only: clinic B's id is not this admin's to read.
    expect(staff.find((member) => member.identity === ofBoth)?.clinics).toEqual([a]);
    expect(text).not.toContain(b);

    // It grants and revokes its own clinic…
    const added = `nurse-${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    expect((await asAdminOfA(`/admin/staff/${added}`, json({ role: "operator", clinics: [a] }))).status).toBe(200);
    expect((await asAdminOfA(`/admin/staff/${ofA}`, { method: "DELETE" })).status).toBe(204);
    // …never beyond it: another clinic, every clinic, a row of clinic B (404, as unknown), a row reaching beyond.
    expect((await asAdminOfA(`/admin/staff/${added}`, json({ role: "operator", clinics: [b] }))).status).toBe(403);
    expect((await asAdminOfA(`/admin/staff/${added}`, json({ role: "admin", clinics: "all" }))).status).toBe(403);
    expect((await asAdminOfA(`/admin/staff/${ofB}`, json({ role: "viewer", clinics: [a] }))).status).toBe(404);
    expect((await asAdminOfA(`/admin/staff/${ofB}`, { method: "DELETE" })).status).toBe(404);
    expect((await asAdminOfA(`/admin/staff/${ofBoth}`, { method: "DELETE" })).status).toBe(403);
    const rows = await env.DB.prepare(`SELECT identity, role, clinics FROM staff WHERE identity IN (?1, ?2, ?3)`)
      .bind(added, ofB, ofBoth)
      .all();
    expect(rows.results).toEqual(
      expect.arrayContaining([
        { identity: added, role: "operator", clinics: JSON.stringify([a]) },
        { identity: ofB, role: "operator", clinics: JSON.stringify([b]) },
        { identity: ofBoth, role: "viewer", clinics: JSON.stringify([a, b]) },
      ]),
    );
    // Staff stays for admins: an operator of clinic A still gets 403.
    const operatorOfA = await access.signedIn(workerEnv, await addStaff(workerEnv, "operator", [a]));
    expect((await operatorOfA("/admin/staff")).status).toBe(403);
  });

  it("the old /admin/patients routes use the identity's only clinic; an identity of two gets 400 clinic_required", async () => {
    const { a, b, workerEnv } = twoClinicAccess();
    const operatorOfA = await access.signedIn(workerEnv, await addStaff(workerEnv, "operator", [a]));
    const patientId = uniqueId("pat");
    const fields = { phone: "+14155550123", email: null, timezone: null, sms_opt_in: true, email_opt_in: false };
    expect((await operatorOfA(`/admin/patients/${patientId}`, json(fields))).status).toBe(200);
    expect((await operatorOfA(`/admin/patients/${patientId}`)).status).toBe(200);
    // The row is clinic A's, and its audit row names clinic A.
    expect((await adminFetchWith(workerEnv, `/clinics/${a}/patients/${patientId}`)).status).toBe(200);
    expect((await adminFetchWith(workerEnv, `/clinics/${b}/patients/${patientId}`)).status).toBe(404);
    const audit = await env.DB.prepare(`SELECT clinic_id FROM audit WHERE target_id = ?1 AND action = 'patient.upsert'`)
      .bind(patientId)
      .first();
    expect(audit).toEqual({ clinic_id: a });
    // Clinic B's patient of the same id does not exist for it, and an import row naming clinic B is refused.
    const patientOfB = await createClinicPatient(workerEnv, b);
    expect((await operatorOfA(`/admin/patients/${patientOfB}`)).status).toBe(404);
    const imported = await operatorOfA("/admin/patients/import", {
      method: "POST",
      body: JSON.stringify([
        { patient_id: uniqueId("pat"), ...fields },
        { clinic_id: b, patient_id: patientOfB, ...fields, phone: "+14155550999" },
      ]),
    });
    expect(await imported.json()).toMatchObject({
      imported: 1,
      failed: 1,
      errors: [{ row: 2, issues: [{ path: "clinic_id", message: "is not a clinic this receiver serves" }] }],
    });
    const untouched = await env.DB.prepare(`SELECT phone FROM patients WHERE clinic_id = ?1 AND patient_id = ?2`)
      .bind(b, patientOfB)
      .first<{ phone: string }>();
    expect(untouched?.phone).not.toBe("+14155550999");

    const ofBoth = await access.signedIn(workerEnv, await addStaff(workerEnv, "operator", [a, b]));
    const ambiguous = await ofBoth(`/admin/patients/${patientId}`);
    expect(ambiguous.status).toBe(400);
    expect(await ambiguous.json()).toMatchObject({ error: { code: "clinic_required" } });
  });

  it("POST /admin/notifications/replay releases the identity's clinics' notifications only", async () => {
    const { a, b, workerEnv } = twoClinicAccess();
    // One shipped order in each clinic, whose notification is then held (as without a provider).
    const patients = [await createClinicPatient(workerEnv, a), await createClinicPatient(workerEnv, b)];
    const [eventOfA, eventOfB] = [a, b].map((clinicId, index) =>
      makeEvent("order:shipped", {
        clinic_id: clinicId,
        data: { order_id: uniqueId("ord"), patient_id: patients[index] },
      }),
    );
    if (!eventOfA || !eventOfB) throw new Error("no events");
    await runBatch(EVENTS_QUEUE, [eventMessage(eventOfA), eventMessage(eventOfB)]);
    const { results: held } = await env.DB.prepare(
      `UPDATE notifications SET status = 'held', error = 'sms_provider_missing' WHERE event_id IN (?1, ?2)
       RETURNING notification_id, event_id`,
    )
      .bind(eventOfA.event_id, eventOfB.event_id)
      .all<{ notification_id: string; event_id: string }>();
    const ofA = held.find((row) => row.event_id === eventOfA.event_id)?.notification_id ?? "";
    const ofB = held.find((row) => row.event_id === eventOfB.event_id)?.notification_id ?? "";
    expect(ofA && ofB).toBeTruthy();
    const operatorOfA = await access.signedIn(workerEnv, await addStaff(workerEnv, "operator", [a]));
    const response = await operatorOfA("/admin/notifications/replay", {
      method: "POST",
      body: JSON.stringify({ status: "held", limit: 1000 }),
    });
    expect(response.status).toBe(202);
    const statusOf = async (notificationId: string) =>
      (
        await env.DB.prepare(`SELECT status FROM notifications WHERE notification_id = ?1`)
          .bind(notificationId)
          .first<{ status: string }>()
      )?.status;
    expect(await statusOf(ofA)).toBe("pending");
    expect(await statusOf(ofB)).toBe("held");
  });

  it("GET /admin/rejections counts the identity's clinics only (not unknown)", async () => {
    const { a, b, workerEnv } = twoClinicAccess();
    const at = new Date(Date.now() - 60_000);
    await recordRejection(env.DB, { clinicId: a, reason: "invalid_envelope", at });
    await recordRejection(env.DB, { clinicId: b, reason: "clinic_key_mismatch", at });
    await recordRejection(env.DB, { clinicId: "unknown", reason: "unauthorized", at });
    const viewerOfA = await access.signedIn(workerEnv, await addStaff(workerEnv, "viewer", [a]));
    const body = (await (await viewerOfA("/admin/rejections")).json()) as { rejections: { clinic_id: string }[] };
    expect(new Set(body.rejections.map((row) => row.clinic_id))).toEqual(new Set([a]));
    const every = (await (await adminFetchWith(workerEnv, "/rejections")).json()) as {
      rejections: { clinic_id: string }[];
    };
    expect(every.rejections.map((row) => row.clinic_id)).toEqual(expect.arrayContaining([a, b, "unknown"]));
  });
});
