import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { accessEnv, useAccessTeam } from "../helpers/access";
import { adminFetchWith } from "../helpers/clinics";
import { CLINIC_ID } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";

const access = useAccessTeam(useMockNetwork());

/** A staff route called as an Access identity. */
const asAccess = access.adminFetch;

const put = (body: unknown): RequestInit => ({ method: "PUT", body: JSON.stringify(body) });

describe("staff: GET /admin/staff, PUT/DELETE /admin/staff/:identity (admins only, audited)", () => {
  it("the admin token manages staff rows; each change is audited", async () => {
    const workerEnv = accessEnv();
    const identity = `nurse-${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    const created = await adminFetchWith(
      workerEnv,
      `/staff/${identity.toUpperCase()}`,
      put({ role: "viewer", clinics: [CLINIC_ID] }),
    );
    expect(created.status).toBe(200);
    expect(await created.json()).toMatchObject({ identity, role: "viewer", clinics: [CLINIC_ID] });
    const list = (await (await adminFetchWith(workerEnv, "/staff")).json()) as { staff: { identity: string }[] };
    expect(list.staff.map((member) => member.identity)).toContain(identity);
    expect((await adminFetchWith(workerEnv, `/staff/${identity}`, { method: "DELETE" })).status).toBe(204);
    expect((await adminFetchWith(workerEnv, `/staff/${identity}`, { method: "DELETE" })).status).toBe(404);
    const audit = await env.DB.prepare(
      `SELECT action, outcome FROM audit WHERE target_type = 'staff' AND target_id IN (?1, ?2) ORDER BY audit_id`,
    )
      .bind(identity, identity.toUpperCase())
      .all();
    expect(audit.results).toEqual([
      { action: "staff.upsert", outcome: "success" },
      { action: "staff.delete", outcome: "success" },
      { action: "staff.delete", outcome: "not_found" },
    ]);
  });

  it("refuses invalid roles and clinics field by field", async () => {
    const workerEnv = accessEnv();
    const response = await adminFetchWith(
      workerEnv,
      "/staff/x@clinic.example",
      put({ role: "owner", clinics: "some" }),
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; issues: { path: string }[] } };
    expect(body.error.code).toBe("invalid_staff");
    expect(body.error.issues.map((issue) => issue.path).sort()).toEqual(["clinics", "role"]);
    const outside = await adminFetchWith(
      workerEnv,
      "/staff/x@clinic.example",
      put({ role: "viewer", clinics: [crypto.randomUUID()] }),
    );
    expect(outside.status).toBe(400);
  });

  it("an identity of ACCESS_ADMIN_EMAILS is an admin before any staff row; others get 403", async () => {
    const workerEnv = accessEnv({ ACCESS_ADMIN_EMAILS: "Boss@Clinic.example, other@clinic.example" });
    expect((await asAccess(workerEnv, "boss@clinic.example", "/staff")).status).toBe(200);
    const stranger = await asAccess(workerEnv, "stranger@clinic.example", "/staff");
    expect(stranger.status).toBe(403);
    expect(((await stranger.json()) as { error: { code: string } }).error.code).toBe("forbidden");

    // A staff row with role admin for every clinic may manage staff; an operator may not.
    const operator = `op-${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    const admin = `ad-${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    await adminFetchWith(workerEnv, `/staff/${operator}`, put({ role: "operator", clinics: "all" }));
    await adminFetchWith(workerEnv, `/staff/${admin}`, put({ role: "admin", clinics: "all" }));
    expect((await asAccess(workerEnv, operator, "/staff")).status).toBe(403);
    expect(
      (await asAccess(workerEnv, operator, `/staff/${operator}`, put({ role: "admin", clinics: "all" }))).status,
    ).toBe(403);
    expect((await asAccess(workerEnv, admin, "/staff")).status).toBe(200);
  });
});

describe("roles and clinics on the admin API", () => {
  async function member(workerEnv: Env, role: string, clinics: string[] | "all") {
    const identity = `${role}-${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    const response = await adminFetchWith(workerEnv, `/staff/${identity}`, put({ role, clinics }));
    expect(response.status).toBe(200);
    return identity;
  }

  it("an Access identity without a staff row gets 403 on every route", async () => {
    const workerEnv = accessEnv({ ACCESS_ADMIN_EMAILS: "" });
    for (const path of ["/stats", "/events", `/clinics/${CLINIC_ID}/patients/p1`]) {
      const response = await asAccess(workerEnv, "nobody@clinic.example", path);
      expect(response.status).toBe(403);
    }
  });

  it("viewer reads (contacts masked) but changes nothing; operator edits and replays; admin edits clinics", async () => {
    const workerEnv = accessEnv();
    const viewer = await member(workerEnv, "viewer", "all");
    const operator = await member(workerEnv, "operator", "all");
    const patient = `/clinics/${CLINIC_ID}/patients/pat_roles`;
    const fields = {
      phone: "+14155550987",
      email: "roles@example.org",
      timezone: null,
      sms_opt_in: true,
      email_opt_in: true,
    };

    expect((await asAccess(workerEnv, viewer, patient, put(fields))).status).toBe(403);
    expect((await asAccess(workerEnv, operator, patient, put(fields))).status).toBe(200);
    const masked = (await (await asAccess(workerEnv, viewer, patient)).json()) as { phone: string; email: string };
    expect(masked.phone).not.toBe("+14155550987");
    expect(masked.email).not.toBe("roles@example.org");
    const full = (await (await asAccess(workerEnv, operator, patient)).json()) as { phone: string };
    expect(full.phone).toBe("+14155550987");

    expect((await asAccess(workerEnv, viewer, "/stats")).status).toBe(200);
    const replay = { method: "POST", body: JSON.stringify({ status: "dead" }) };
    expect((await asAccess(workerEnv, viewer, "/events/replay", replay)).status).toBe(403);
    expect((await asAccess(workerEnv, operator, "/events/replay", replay)).status).toBe(202);
    expect((await asAccess(workerEnv, operator, `/clinics/${CLINIC_ID}`, put({ name: "X" }))).status).toBe(403);

    const audit = await env.DB.prepare(
      `SELECT actor, role FROM audit WHERE target_id = 'pat_roles' AND action = 'patient.read' ORDER BY audit_id`,
    ).all();
    expect(audit.results).toEqual([
      { actor: viewer, role: "viewer" },
      { actor: operator, role: "operator" },
    ]);
  });

  it("an identity of some clinics sees only them: other clinics answer 404, staff is for admins", async () => {
    const other = crypto.randomUUID();
    const workerEnv = accessEnv({ NOVAMED_CLINIC_IDS: `${CLINIC_ID},${other}` });
    const viewer = await member(workerEnv, "viewer", [CLINIC_ID]);
    const list = (await (await asAccess(workerEnv, viewer, "/clinics")).json()) as { clinics: { clinic_id: string }[] };
    expect(list.clinics.map((clinic) => clinic.clinic_id)).toEqual([CLINIC_ID]);
    expect((await asAccess(workerEnv, viewer, `/clinics/${CLINIC_ID}`)).status).toBe(200);
    expect((await asAccess(workerEnv, viewer, `/clinics/${other}`)).status).toBe(404);
    expect((await asAccess(workerEnv, viewer, `/clinics/${other.toUpperCase()}/patients/p1`)).status).toBe(404);
    // Clinic data is filtered by clinic (test/tenancy/scoped-reads.test.ts, clinic-limited-routes.test.ts).
    expect((await asAccess(workerEnv, viewer, "/events")).status).toBe(200);
    expect((await asAccess(workerEnv, viewer, "/health")).status).toBe(200);
    expect((await asAccess(workerEnv, viewer, "/staff")).status).toBe(403);
  });
});
