import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { selectPendingPatients } from "../../src/db/search";
import { drainPendingPatients, indexPatients } from "../../src/search/patient-index";
import { adminFetch, adminJson } from "../helpers/admin";
import { adminFetchWith, CLINIC_B, createClinicPatient, putClinicProfile, twoClinicEnv } from "../helpers/clinics";
import { wrapDatabase } from "../helpers/d1";
import { CLINIC_ID, makeEvent, uniqueId } from "../helpers/events";
import { createPatient } from "../helpers/notifications";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

interface Hit {
  kind: string;
  id: string;
  clinic_id: string | null;
  matched: string;
  event_id: string | null;
}

/** A US number no other test of this file uses: 415 555 and four random digits. */
function randomPhone(): { e164: string; national: string } {
  const line = String(Math.floor(Math.random() * 10_000)).padStart(4, "0");
  return { e164: `+1415555${line}`, national: `(415) 555-${line}` };
}

async function search(q: string): Promise<Hit[]> {
  const { status, body } = await adminJson<{ results: Hit[] }>(`/search?q=${encodeURIComponent(q)}`);
  expect(status).toBe(200);
  return body.results;
}

const patientHits = (hits: Hit[], patientId: string) =>
  hits.filter((hit) => hit.kind === "patient" && hit.id === patientId);

describe("GET /admin/search: find by what staff have", () => {
  it("finds a patient by phone in any common format and by email in any case, never storing either in plain text", async () => {
    const phone = randomPhone();
    const patientId = await createPatient({ phone: phone.e164, email: "Search.Me@Example.org" });
    const line = phone.e164.slice(-7);
    for (const typed of [
      phone.national,
      `+1 415.555.${phone.e164.slice(-4)}`,
      `1-415-${line.slice(0, 3)}-${line.slice(3)}`,
      phone.e164.slice(2),
    ])
      expect(patientHits(await search(typed), patientId), typed).toEqual([
        { kind: "patient", id: patientId, clinic_id: CLINIC_ID, matched: "phone", event_id: null },
      ]);
    expect(patientHits(await search("  search.me@EXAMPLE.org "), patientId)).toMatchObject([{ matched: "email" }]);

    const { results } = await env.DB.prepare(`SELECT * FROM patient_search_index WHERE patient_id = ?1`)
      .bind(patientId)
      .all<Record<string, string>>();
    expect(results.map((row) => row.field).sort()).toEqual(["email", "phone"]);
    const stored = JSON.stringify(results);
    for (const value of [phone.e164, phone.e164.slice(2), "search.me", "example.org"])
      expect(stored).not.toContain(value);
  });

  it("follows every patient write: a changed phone, a delete, a CSV import", async () => {
    const first = randomPhone();
    const second = randomPhone();
    const patientId = await createPatient({ phone: first.e164 });
    const put = await adminFetch(`/patients/${patientId}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ phone: second.e164, email: null, sms_opt_in: true, email_opt_in: false }),
    });
    expect(put.status).toBe(200);
    expect(patientHits(await search(first.national), patientId)).toEqual([]);
    expect(patientHits(await search(second.national), patientId)).toHaveLength(1);
    expect(patientHits(await search(`${patientId}@example.org`), patientId)).toEqual([]);

    expect((await adminFetch(`/patients/${patientId}`, { method: "DELETE" })).status).toBe(204);
    expect(patientHits(await search(second.national), patientId)).toEqual([]);
    const left = await env.DB.prepare(`SELECT COUNT(*) AS n FROM patient_search_index WHERE patient_id = ?1`)
      .bind(patientId)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);

    const imported = uniqueId("pat");
    const third = randomPhone();
    const csv = `patient_id,phone,email,sms_opt_in,email_opt_in\n${imported},${third.e164},imported-${imported}@example.org,yes,yes\n`;
    const response = await adminFetch("/patients/import", {
      method: "POST",
      headers: { "content-type": "text/csv" },
      body: csv,
    });
    expect(await response.json()).toMatchObject({ imported: 1 });
    expect(patientHits(await search(third.national), imported)).toHaveLength(1);
    expect(patientHits(await search(`IMPORTED-${imported}@example.org`), imported)).toHaveLength(1);
  });

  it("indexes patients written without digests (rows from before the index) on the 5-minute cron", async () => {
    const phone = randomPhone();
    const patientId = uniqueId("pat");
    await env.DB.prepare(
      `INSERT INTO patients (clinic_id, patient_id, phone, email, timezone, sms_opt_in, email_opt_in, created_at, updated_at)
       VALUES ('', ?1, ?2, NULL, NULL, 1, 1, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')`,
    )
      .bind(patientId, phone.e164)
      .run();
    expect(patientHits(await search(phone.national), patientId)).toEqual([]);
    expect(await drainPendingPatients(env)).toBeGreaterThanOrEqual(1);
    expect(patientHits(await search(phone.national), patientId)).toEqual([
      { kind: "patient", id: patientId, clinic_id: "", matched: "phone", event_id: null },
    ]);
    expect(await drainPendingPatients(env)).toBe(0);
  });

  it("finds an order by tracking number and any id by a case-insensitive prefix of at least 4 characters", async () => {
    const patientId = await createPatient();
    const orderId = uniqueId("ord");
    const tracking = `1Z${uniqueId("")
      .replaceAll(/[^A-Za-z0-9]/g, "")
      .toUpperCase()
      .slice(0, 14)}`;
    const shipped = makeEvent("order:shipped", {
      data: { order_id: orderId, patient_id: patientId, tracking_number: tracking },
    });
    await runBatch(EVENTS_QUEUE, [eventMessage(shipped)]);

    expect(await search(tracking.toLowerCase())).toContainEqual({
      kind: "order",
      id: orderId,
      clinic_id: CLINIC_ID,
      matched: "tracking_number",
      event_id: null,
    });
    // Stored as the carrier prints it (spaces, dashes): found typed with, without, or with other separators.
    const printedOrderId = uniqueId("ord");
    const printed = `${tracking.slice(0, 4)} ${tracking.slice(4, 8)}-${tracking.slice(8)}`.toLowerCase();
    await runBatch(EVENTS_QUEUE, [
      eventMessage(
        makeEvent("order:shipped", {
          data: { order_id: printedOrderId, patient_id: patientId, tracking_number: printed },
        }),
      ),
    ]);
    for (const typed of [tracking, `${tracking.slice(0, 6)} ${tracking.slice(6)}`, printed.toUpperCase()]) {
      const ids = (await search(typed)).filter((hit) => hit.matched === "tracking_number").map((hit) => hit.id);
      expect(ids.sort()).toEqual([orderId, printedOrderId].sort());
    }
    const byEvent = await search(shipped.event_id.slice(0, shipped.event_id.length - 2).toUpperCase());
    expect(byEvent).toContainEqual({
      kind: "event",
      id: shipped.event_id,
      clinic_id: CLINIC_ID,
      matched: "id",
      event_id: null,
    });
    expect(await search(orderId.toUpperCase())).toContainEqual(expect.objectContaining({ kind: "order", id: orderId }));
    expect(await search(patientId)).toContainEqual(
      expect.objectContaining({ kind: "patient", id: patientId, matched: "id" }),
    );
    const notification = await env.DB.prepare(`SELECT notification_id FROM notifications WHERE event_id = ?1 LIMIT 1`)
      .bind(shipped.event_id)
      .first<{ notification_id: string }>();
    if (notification)
      expect(await search(notification.notification_id)).toContainEqual(
        expect.objectContaining({ kind: "notification", event_id: shipped.event_id, clinic_id: CLINIC_ID }),
      );
    // Three characters are no lookup: nothing is searched.
    expect(await search(orderId.slice(0, 3))).toEqual([]);
    expect((await adminFetch("/search?q=")).status).toBe(400);
    expect((await adminFetch(`/search?q=${"x".repeat(201)}`)).status).toBe(400);
  });

  it("is audited as a PHI read, a phone or email recorded as its digest, never as typed", async () => {
    const phone = randomPhone();
    const patientId = await createPatient({ phone: phone.e164 });
    const byPhone = await adminFetch(`/search?q=${encodeURIComponent(phone.national)}`);
    const byId = await adminFetch(`/search?q=${patientId}`);
    const rows = await env.DB.prepare(
      `SELECT action, target_type, target_id, outcome FROM audit WHERE request_id IN (?1, ?2) ORDER BY audit_id`,
    )
      .bind(byPhone.headers.get("x-request-id"), byId.headers.get("x-request-id"))
      .all<Record<string, string>>();
    expect(rows.results).toHaveLength(2);
    const [phoneRow, idRow] = rows.results;
    expect(phoneRow).toMatchObject({ action: "search", target_type: "search", outcome: "success" });
    expect(phoneRow?.target_id).toMatch(/^phone:[0-9a-f]{16}$/);
    expect(idRow).toMatchObject({ action: "search", target_type: "search", target_id: patientId });

    // POST {"q"} (the number kept out of the URL): the same hits, the same audit row.
    const json = { "content-type": "application/json" };
    const posted = await adminFetch("/search", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ q: phone.national }),
    });
    expect(patientHits(((await posted.json()) as { results: Hit[] }).results, patientId)).toHaveLength(1);
    const postedRow = await env.DB.prepare(`SELECT action, target_id FROM audit WHERE request_id = ?1`)
      .bind(posted.headers.get("x-request-id"))
      .first<{ action: string; target_id: string }>();
    expect(postedRow).toEqual({ action: "search", target_id: phoneRow?.target_id });
    const empty = await adminFetch("/search", { method: "POST", headers: json, body: JSON.stringify({ q: "" }) });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ error: { code: "invalid_body" } });
  });

  it("reads a national number in each clinic's country (its phone's), and re-indexes everyone after the key changes", async () => {
    const workerEnv = twoClinicEnv();
    await putClinicProfile(workerEnv, CLINIC_B, { phone: "+442079460000" });
    const patientId = await createClinicPatient(workerEnv, CLINIC_B, { phone: "+442079460958" });
    const searchWith = async (searchEnv: Env, q: string) => {
      const response = await adminFetchWith(searchEnv, `/search?q=${encodeURIComponent(q)}`);
      return ((await response.json()) as { results: Hit[] }).results;
    };
    expect(patientHits(await searchWith(workerEnv, "020 7946 0958"), patientId)).toHaveLength(1);
    expect(patientHits(await searchWith(workerEnv, "+44 20 7946 0958"), patientId)).toHaveLength(1);

    // A rotated ADMIN_TOKEN: the old digests match nothing until the cron has written them again.
    await drainPendingPatients(workerEnv);
    const rotated = { ...workerEnv, ADMIN_TOKEN: "rotated-admin-token-9b3e7d1c5a2f8e64" };
    const rotatedSearch = (q: string) =>
      adminFetchWith(rotated, `/search?q=${encodeURIComponent(q)}`, {}, rotated.ADMIN_TOKEN).then(
        async (response) => ((await response.json()) as { results: Hit[] }).results,
      );
    expect(patientHits(await rotatedSearch("020 7946 0958"), patientId)).toEqual([]);
    // The new key is recorded with the re-queue or not at all: a drain failing there leaves the old
    // fingerprint, so the next one still re-indexes everyone.
    const keyOf = () =>
      env.DB.prepare(`SELECT fingerprint FROM patient_search_key WHERE id = 1`).first<{ fingerprint: string }>();
    const recorded = await keyOf();
    const failing = {
      ...rotated,
      DB: wrapDatabase(rotated.DB, {
        prepare: (sql, inner) => {
          if (sql.includes("INSERT OR IGNORE INTO patient_search_pending")) throw new Error("D1 is unavailable");
          return inner(sql);
        },
      }),
    };
    await expect(drainPendingPatients(failing)).rejects.toThrow("D1 is unavailable");
    expect(await keyOf()).toEqual(recorded);
    expect(await drainPendingPatients(rotated)).toBeGreaterThanOrEqual(1);
    expect(patientHits(await rotatedSearch("020 7946 0958"), patientId)).toHaveLength(1);
  });

  it("never makes a patient findable by a number changed while the cron's drain was indexing the old one", async () => {
    const before = randomPhone();
    const after = randomPhone();
    // Written without its digests (as by a writer that does not index): on the pending list.
    const patientId = uniqueId("pat");
    await env.DB.prepare(
      `INSERT INTO patients (clinic_id, patient_id, phone, sms_opt_in, email_opt_in, created_at, updated_at)
VALUES (?1, ?2, ?3, 1, 0, '2026-01-15T00:00:00Z', '2026-01-15T00:00:00Z')`,
    )
      .bind(CLINIC_ID, patientId, before.e164)
      .run();
    // The drain reads the patient (old number) …
    const read = await selectPendingPatients(env.DB, 5000);
    expect(read.map((patient) => patient.patient_id)).toContain(patientId);
    // … a PUT changes the number (and indexes the new one) …
    const put = await adminFetch(`/patients/${patientId}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ phone: after.e164, sms_opt_in: true, email_opt_in: false }),
    });
    expect(put.status).toBe(200);
    // … and the drain's write of the old number lands late: it is skipped.
    await env.DB.batch(await indexPatients(env, read));
    expect(patientHits(await search(before.national), patientId)).toEqual([]);
    expect(patientHits(await search(after.national), patientId)).toHaveLength(1);
  });
});
