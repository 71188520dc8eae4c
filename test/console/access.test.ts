import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import {
  type AccessKeyPair,
  accessClaims,
  accessEnv,
  generateAccessKeys,
  serveAccessKeys,
  signAccessToken,
} from "../helpers/access";
import { adminFetch, randomClientAddress } from "../helpers/admin";
import { consoleFetch, csrfTokenOf } from "../helpers/console";
import { useMockNetwork } from "../helpers/msw";

const server = useMockNetwork();
afterEach(() => vi.restoreAllMocks());

let team: AccessKeyPair;
beforeAll(async () => {
  team = await generateAccessKeys();
});

/** The Worker with Access configured and no admin token, as a production console behind Access. */
const behindAccess = async (request: Request) => {
  request.headers.set("cf-connecting-ip", randomClientAddress());
  return worker.fetch(request, accessEnv({ ADMIN_TOKEN: undefined }));
};

describe("the console behind Cloudflare Access", () => {
  it("opens pages for a verified assertion, with its email as the actor, and no sign-in form", async () => {
    serveAccessKeys(server, team);
    const assertion = await signAccessToken(team, accessClaims("Pharmacist@Clinic.example"));
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
    serveAccessKeys(server, team);
    const assertion = await signAccessToken(team, accessClaims("a@clinic.example"));
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
    serveAccessKeys(server, team);
    const expired = await signAccessToken(team, accessClaims("a@clinic.example", { exp: Date.now() / 1000 - 5 }));
    const refused = await consoleFetch(
      "/console/events",
      { headers: { "cf-access-jwt-assertion": expired } },
      behindAccess,
    );
    expect(refused.status).toBe(401);
    expect((await consoleFetch("/console/events", {}, behindAccess)).status).toBe(303);
  });
});
