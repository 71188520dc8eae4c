import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { twoClinicsBehindAccess, useAccessTeam } from "../helpers/access";
import { adminFetchWith } from "../helpers/clinics";
import { csrfTokenOf } from "../helpers/console";
import { useMockNetwork } from "../helpers/msw";

const access = useAccessTeam(useMockNetwork());

describe("/console/clinics: each clinic's effective settings; admins edit them (CSRF, audited)", () => {
  it("shows each clinic of the identity with its sources, saves an admin's valid form and refuses the rest", async () => {
    const { a, b, workerEnv, adminEnv } = twoClinicsBehindAccess();
    const as = (identity: string) => access.consoleAs(workerEnv, identity);
    const profileOf = (clinicId: string) =>
      env.DB.prepare(`SELECT name, sms_daily_cap, time_zone FROM clinic_profiles WHERE clinic_id = ?1`)
        .bind(clinicId)
        .first();

    // An admin of every clinic (ACCESS_ADMIN_EMAILS): both clinics, every field's source, a form each.
    const asAdmin = await as("a@clinic.example");
    const page = await asAdmin("/console/clinics");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`clinic-${a}`);
    expect(html).toContain(`clinic-${b}`);
    expect(html).toContain(`action="/console/clinics/${a}"`);
    expect(html).toContain("default");
    const csrf = csrfTokenOf(html);

    const saved = await asAdmin(`/console/clinics/${a}`, {
      _csrf: csrf,
      name: "Alpha Care",
      sms_daily_cap: "50",
      time_zone: "",
    });
    expect(saved.status).toBe(303);
    expect(await profileOf(a)).toEqual({ name: "Alpha Care", sms_daily_cap: 50, time_zone: null });
    const shownAfter = await (await asAdmin("/console/clinics")).text();
    expect(shownAfter).toContain("Alpha Care");
    expect(shownAfter).toContain("profile");
    const audit = await env.DB.prepare(
      `SELECT actor, action, clinic_id, outcome FROM audit WHERE target_type = 'clinic' AND target_id = ?1`,
    )
      .bind(a)
      .all();
    expect(audit.results).toEqual([
      { actor: "a@clinic.example", action: "clinic.update", clinic_id: a, outcome: "success" },
    ]);

    // Invalid fields are named and nothing is stored; a form without the CSRF token is refused.
    const invalid = await asAdmin(`/console/clinics/${a}`, { _csrf: csrf, name: "Alpha", time_zone: "Mars/Base" });
    expect(invalid.status).toBe(400);
    expect(await invalid.text()).toContain("must be an IANA time zone");
    expect((await asAdmin(`/console/clinics/${a}`, { _csrf: "forged", name: "Forged" })).status).toBe(403);
    expect(await profileOf(a)).toEqual({ name: "Alpha Care", sms_daily_cap: 50, time_zone: null });
    expect((await asAdmin(`/console/clinics/${crypto.randomUUID()}`, { _csrf: csrf, name: "X" })).status).toBe(404);

    // A viewer of clinic A: only clinic A, no form, and the POST is refused.
    const viewer = `viewer-${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    await adminFetchWith(adminEnv, `/staff/${viewer}`, {
      method: "PUT",
      body: JSON.stringify({ role: "viewer", clinics: [a] }),
    });
    const asViewer = await as(viewer);
    const viewerHtml = await (await asViewer("/console/clinics")).text();
    expect(viewerHtml).toContain(`clinic-${a}`);
    expect(viewerHtml).not.toContain(b);
    expect(viewerHtml).not.toContain("Save ");
    const viewerCsrf = csrfTokenOf(viewerHtml);
    expect((await asViewer(`/console/clinics/${a}`, { _csrf: viewerCsrf, name: "Viewer" })).status).toBe(403);
    expect(await profileOf(a)).toMatchObject({ name: "Alpha Care" });
  });
});
