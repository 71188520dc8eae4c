import { describe, expect, it } from "vitest";
import { adminFetch, adminJson } from "../helpers/admin";
import { uniqueId } from "../helpers/events";

const json = (body: unknown): RequestInit => ({
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});
const valid = {
  phone: "+14155550123",
  email: "pat@example.org",
  timezone: "America/Chicago",
  sms_opt_in: true,
  email_opt_in: false,
};

describe("admin API: patients", () => {
  it("PUT creates and replaces, GET reads, DELETE removes", async () => {
    const id = uniqueId("pat");
    const created = await adminJson(`/patients/${id}`, { method: "PUT", ...json(valid) });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ patient_id: id, ...valid });
    const replaced = await adminJson(`/patients/${id}`, {
      method: "PUT",
      ...json({ ...valid, phone: null, sms_opt_in: false }),
    });
    expect(replaced.body).toMatchObject({ phone: null, sms_opt_in: false, email: "pat@example.org" });
    expect((await adminJson(`/patients/${id}`)).body).toMatchObject({ phone: null, timezone: "America/Chicago" });
    expect((await adminFetch(`/patients/${id}`, { method: "DELETE" })).status).toBe(204);
    expect((await adminFetch(`/patients/${id}`)).status).toBe(404);
    expect((await adminFetch(`/patients/${id}`, { method: "DELETE" })).status).toBe(404);
  });

  it.each([
    ["phone", { phone: "415-555-0123" }],
    ["email", { email: "not-an-email" }],
    ["timezone", { timezone: "Mars/Olympus_Mons" }],
    ["sms_opt_in", { sms_opt_in: "yes" }],
    ["email_opt_in", { email_opt_in: undefined }],
  ])("400 invalid_patient naming %s, without echoing the value", async (field, change) => {
    const response = await adminFetch(`/patients/${uniqueId("pat")}`, {
      method: "PUT",
      ...json({ ...valid, ...change }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; issues: { path: string }[] } };
    expect(body.error.code).toBe("invalid_patient");
    expect(body.error.issues.map((issue) => issue.path)).toEqual([field]);
    const value = Object.values(change)[0];
    if (typeof value === "string") expect(JSON.stringify(body)).not.toContain(value);
  });

  it("needs the admin token", async () => {
    expect((await adminFetch(`/patients/x`, {}, null)).status).toBe(401);
  });
});

describe("admin API: patient import", () => {
  it("imports CSV, reporting per-row errors without stopping at the first", async () => {
    const ids = [uniqueId("pat"), uniqueId("pat"), uniqueId("pat"), uniqueId("pat")];
    const csv = [
      "patient_id,phone,email,timezone,sms_opt_in,email_opt_in",
      `${ids[0]},+14155550101,a@example.org,America/New_York,true,true`,
      `${ids[1]},bad-phone,b@example.org,,yes,no`,
      `"${ids[2]}",,"c,quoted@example.org",,false,1`,
      `${ids[3]},+14155550104,,Europe/Paris,1,0`,
      "",
    ].join("\r\n");
    const { status, body } = await adminJson<{
      imported: number;
      failed: number;
      errors: { row: number; issues: { path: string }[] }[];
    }>("/patients/import", {
      method: "POST",
      headers: { "content-type": "text/csv" },
      body: csv,
    });
    expect(status).toBe(200);
    expect(body.imported).toBe(2);
    expect(body.failed).toBe(2);
    expect(body.errors.map((error) => [error.row, error.issues.map((issue) => issue.path)])).toEqual([
      [2, ["phone"]],
      [3, ["email"]],
    ]);
    expect((await adminJson(`/patients/${ids[3]}`)).body).toMatchObject({
      phone: "+14155550104",
      email: null,
      timezone: "Europe/Paris",
      sms_opt_in: true,
      email_opt_in: false,
    });
    expect((await adminFetch(`/patients/${ids[1]}`)).status).toBe(404);
  });

  it("imports JSON, as an array or {patients: [...]}", async () => {
    const id = uniqueId("pat");
    const array = await adminJson<{ imported: number; failed: number }>("/patients/import", {
      method: "POST",
      ...json([{ patient_id: id, ...valid }, { patient_id: "" }]),
    });
    expect(array.body).toMatchObject({ imported: 1, failed: 1 });
    const wrapped = await adminJson<{ imported: number }>("/patients/import", {
      method: "POST",
      ...json({ patients: [{ patient_id: uniqueId("pat"), ...valid }] }),
    });
    expect(wrapped.body.imported).toBe(1);
    expect((await adminFetch("/patients/import", { method: "POST", ...json({ nope: 1 }) })).status).toBe(400);
  });

  it("refuses more than 1,000 rows in one request", async () => {
    const rows = Array.from({ length: 1001 }, () => ({ patient_id: uniqueId("pat"), ...valid }));
    expect((await adminFetch("/patients/import", { method: "POST", ...json(rows) })).status).toBe(413);
  });
});

describe("admin API: patient import limits", () => {
  it("413 for an import body over 1 MiB", async () => {
    const response = await adminFetch("/patients/import", {
      method: "POST",
      headers: { "content-type": "text/csv" },
      body: "x".repeat(1024 * 1024 + 1),
    });
    expect(response.status).toBe(413);
  });
});
