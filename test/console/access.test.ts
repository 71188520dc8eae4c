import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { accessEnv, useAccessTeam } from "../helpers/access";
import { adminFetch, randomClientAddress } from "../helpers/admin";
import { consoleFetch, csrfTokenOf, signIn } from "../helpers/console";
import { ADMIN_TOKEN } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";

const access = useAccessTeam(useMockNetwork());

/** The Worker with Access configured and no admin token, as a production console behind Access. */
const behindAccess = async (request: Request) => {
  request.headers.set("cf-connecting-ip", randomClientAddress());
  return worker.fetch(request, accessEnv({ ADMIN_TOKEN: undefined }));
};

describe("the console behind Cloudflare Access", () => {
  it("opens pages for a verified assertion, with its email as the actor, and no sign-in form", async () => {
    const assertion = await access.assertion("Pharmacist@Clinic.example");
    const page = await consoleFetch(
      "/console/events",
      { headers: { "cf-access-jwt-assertion": assertion } },
      behindAccess,
    );
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("Signed in as pharmacist@clinic.example");
    expect(page.headers.get("set-cookie")).toBeNull();
  });

  it("accepts a form whose CSRF token came with the same assertion, and refuses one without it", async () => {
    const assertion = await access.assertion("a@clinic.example");
    const headers = { "cf-access-jwt-assertion": assertion };
    const patient = { phone: "+14155550177", email: null, timezone: null, sms_opt_in: true, email_opt_in: false };
    await adminFetch("/patients/p-access", {
      method: "PUT",
      body: JSON.stringify(patient),
      headers: { "content-type": "application/json" },
    });
    const csrf = csrfTokenOf(
      await (await consoleFetch("/console/patients/p-access", { headers }, behindAccess)).text(),
    );
    const reveal = (token: string) =>
      consoleFetch(
        "/console/patients/p-access/reveal",
        { headers, form: { field: "phone", _csrf: token } },
        behindAccess,
      );
    expect((await reveal(csrf)).status).toBe(200);
    expect((await reveal("forged")).status).toBe(403);
  });

  it("401 for an invalid assertion, and a redirect to the login form without one", async () => {
    const expired = await access.assertion("a@clinic.example", { exp: Date.now() / 1000 - 5 });
    const refused = await consoleFetch(
      "/console/events",
      { headers: { "cf-access-jwt-assertion": expired } },
      behindAccess,
    );
    expect(refused.status).toBe(401);
    expect((await consoleFetch("/console/events", {}, behindAccess)).status).toBe(303);
  });

  it("signing out ends the Access session too: a redirect to /cdn-cgi/access/logout", async () => {
    const assertion = await access.assertion("a@clinic.example");
    const headers = { "cf-access-jwt-assertion": assertion };
    const csrf = csrfTokenOf(await (await consoleFetch("/console", { headers }, behindAccess)).text());
    const out = await consoleFetch("/console/logout", { headers, form: { _csrf: csrf } }, behindAccess);
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/cdn-cgi/access/logout");
  });

  it("turns the console's token sign-in off while the token keeps working for scripts on /admin", async () => {
    // ADMIN_TOKEN still configured next to Access, as for scripts.
    const withToken = async (request: Request) => {
      request.headers.set("cf-connecting-ip", randomClientAddress());
      return worker.fetch(request, accessEnv());
    };
    const form = await consoleFetch("/console/login", {}, withToken);
    expect(form.status).toBe(200);
    const html = await form.text();
    expect(html).not.toContain('id="token"');
    expect(html).toContain("Cloudflare Access");

    const posted = await consoleFetch("/console/login", { form: { token: ADMIN_TOKEN, next: "/console" } }, withToken);
    expect(posted.status).toBe(403);
    expect(posted.headers.get("set-cookie")).toBeNull();

    // A session opened before Access was configured opens nothing behind it.
    const { cookie } = await signIn();
    const page = await consoleFetch("/console/events", { cookie }, withToken);
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toContain("/console/login");

    const admin = await worker.fetch(
      new Request("https://receiver.test/admin/stats", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
      accessEnv(),
    );
    expect(admin.status).toBe(200);
  });
});
