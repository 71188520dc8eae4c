import { env } from "cloudflare:workers";
import { HttpResponse, http } from "msw";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { JWKS_CACHE_MAX_AGE_MS, JWKS_COOLDOWN_MS, JWKS_FAILURE_COOLDOWN_MS } from "../../src/http/identity";
import worker from "../../src/index";
import {
  ACCESS_AUD,
  ACCESS_CERTS_URL,
  ACCESS_ISSUER,
  type AccessKeyPair,
  accessClaims,
  accessEnv,
  generateAccessKeys,
  publicKeyHmacToken,
  serveAccessKeys,
  signAccessToken,
  unsignedToken,
} from "../helpers/access";
import { insideOneLimiterWindow, randomClientAddress } from "../helpers/admin";
import { setClock, TEST_NOW } from "../helpers/clock";
import { ADMIN_TOKEN } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";

const server = useMockNetwork();

let team: AccessKeyPair;
let stranger: AccessKeyPair;
beforeAll(async () => {
  team = await generateAccessKeys();
  stranger = await generateAccessKeys(team.kid); // same key id, different key
});

/** GET /admin/stats with the given headers, against `workerEnv` (Access configured by default). */
function adminStats(headers: Record<string, string>, workerEnv: Env = accessEnv()) {
  // A client of its own per request: the failure limiter is exercised in test/http/auth-lockout.test.ts.
  const client = { "cf-connecting-ip": randomClientAddress() };
  return worker.fetch(
    new Request("https://receiver.test/admin/stats", { headers: { ...client, ...headers } }),
    workerEnv,
  );
}

async function expectUnauthorized(response: Response) {
  expect(response.status).toBe(401);
  expect(await response.json()).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
  expect(response.headers.get("cache-control")).toBe("no-store");
}

describe("admin identity through Cloudflare Access", () => {
  it("accepts a valid assertion signed by the team's key", async () => {
    serveAccessKeys(server, team);
    const token = await signAccessToken(team, accessClaims("Nurse@Clinic.example"));
    const response = await adminStats({ "cf-access-jwt-assertion": token });
    expect(response.status).toBe(200);
  });

  it.each<[string, (pair: AccessKeyPair) => Promise<string> | string]>([
    ["expired", (pair) => signAccessToken(pair, accessClaims("a@clinic.example", { exp: Date.now() / 1000 - 1 }))],
    ["without expiry", (pair) => signAccessToken(pair, accessClaims("a@clinic.example", { exp: undefined }))],
    [
      "not yet valid",
      (pair) => signAccessToken(pair, accessClaims("a@clinic.example", { nbf: Date.now() / 1000 + 600 })),
    ],
    [
      "for another audience",
      (pair) => signAccessToken(pair, accessClaims("a@clinic.example", { aud: ["b".repeat(64)] })),
    ],
    [
      "from another issuer",
      (pair) => signAccessToken(pair, accessClaims("a@clinic.example", { iss: "https://evil.cloudflareaccess.com" })),
    ],
    ["unsigned (alg none)", (pair) => unsignedToken(pair.kid, accessClaims("a@clinic.example"))],
    ["HS256 with the public key (alg confusion)", (pair) => publicKeyHmacToken(pair, accessClaims("a@clinic.example"))],
    [
      "signed by another key under the team's key id",
      () => signAccessToken(stranger, accessClaims("a@clinic.example")),
    ],
    [
      "signed by a key the team never published",
      async () => signAccessToken(await generateAccessKeys(), accessClaims("a@clinic.example")),
    ],
    [
      "without an email or service name",
      (pair) => signAccessToken(pair, accessClaims("a@clinic.example", { email: undefined })),
    ],
    ["not a JWT", () => "not.a.jwt"],
  ])("401 for a token %s", async (_case, makeToken) => {
    serveAccessKeys(server, team);
    const token = await makeToken(team);
    await expectUnauthorized(await adminStats({ "cf-access-jwt-assertion": token }));
  });

  it("an invalid assertion is not rescued by a valid bearer token", async () => {
    serveAccessKeys(server, team);
    const expired = await signAccessToken(team, accessClaims("a@clinic.example", { exp: Date.now() / 1000 - 1 }));
    await expectUnauthorized(
      await adminStats({ "cf-access-jwt-assertion": expired, authorization: `Bearer ${ADMIN_TOKEN}` }),
    );
  });

  it("keeps the bearer token working for scripts next to Access, and Access working without a token", async () => {
    expect((await adminStats({ authorization: `Bearer ${ADMIN_TOKEN}` })).status).toBe(200);
    serveAccessKeys(server, team);
    const token = await signAccessToken(team, accessClaims("a@clinic.example"));
    const accessOnly = accessEnv({ ADMIN_TOKEN: undefined });
    expect((await adminStats({ "cf-access-jwt-assertion": token }, accessOnly)).status).toBe(200);
    await expectUnauthorized(await adminStats({ authorization: `Bearer ${ADMIN_TOKEN}` }, accessOnly));
  });

  it("ignores an assertion where Access is not configured (the token decides)", async () => {
    const token = await signAccessToken(team, accessClaims("a@clinic.example"));
    await expectUnauthorized(await adminStats({ "cf-access-jwt-assertion": token }, env));
  });

  it("fetches the keys again when the team rotates them, at most once per interval", async () => {
    setClock(TEST_NOW + 10 * 60_000);
    const current = await generateAccessKeys();
    serveAccessKeys(server, current);
    const first = await signAccessToken(current, accessClaims("a@clinic.example"));
    expect((await adminStats({ "cf-access-jwt-assertion": first })).status).toBe(200);
    const rotated = await generateAccessKeys();
    serveAccessKeys(server, rotated, current);
    const fetches: string[] = [];
    server.events.on("request:start", ({ request }) => fetches.push(request.url));
    try {
      // Within the interval of the last fetch an unknown key id (here the rotated key) costs no fetch.
      const tooSoon = await signAccessToken(rotated, accessClaims("a@clinic.example"));
      await expectUnauthorized(await adminStats({ "cf-access-jwt-assertion": tooSoon }));
      expect(fetches).toEqual([]);
      setClock(TEST_NOW + 10 * 60_000 + JWKS_COOLDOWN_MS);
      const response = await adminStats({
        "cf-access-jwt-assertion": await signAccessToken(rotated, accessClaims("a@clinic.example")),
      });
      expect(response.status).toBe(200);
      expect(fetches).toEqual([ACCESS_CERTS_URL]);
    } finally {
      server.events.removeAllListeners();
    }
  });

  it("503 identity_unavailable when the team's keys cannot be read", async () => {
    setClock(TEST_NOW + 60 * 60_000);
    server.use(http.get(`${ACCESS_ISSUER}/cdn-cgi/access/certs`, () => HttpResponse.text("down", { status: 502 })));
    const token = await signAccessToken(await generateAccessKeys(), accessClaims("a@clinic.example"));
    const response = await adminStats({ "cf-access-jwt-assertion": token });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: "identity_unavailable" } });
  });

  it("bounds a storm of forged tokens naming unknown key ids to one keys fetch per cooldown", async () => {
    // A team of its own, so this isolate's cached keys for the other tests play no part.
    const stormTeam = "storm-test";
    const certsUrl = `https://${stormTeam}.cloudflareaccess.com/cdn-cgi/access/certs`;
    const stormEnv = accessEnv({ ACCESS_TEAM_DOMAIN: `${stormTeam}.cloudflareaccess.com` });
    const claims = () => accessClaims("a@clinic.example", { iss: `https://${stormTeam}.cloudflareaccess.com` });
    const published = await generateAccessKeys();
    let fetches = 0;
    let up = true;
    server.use(
      http.get(certsUrl, () => {
        fetches += 1;
        return up
          ? HttpResponse.json({ keys: [{ ...published.publicJwk, use: "sig" }] })
          : HttpResponse.text("down", { status: 502 });
      }),
    );
    // Forged tokens: RS256 headers naming random key ids, garbage signatures (cheap to make many).
    const part = (value: unknown) =>
      btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const forged = () =>
      `${part({ alg: "RS256", typ: "JWT", kid: crypto.randomUUID() })}.${part(claims())}.c2lnbmF0dXJl`;
    const storm = async (count: number) => {
      const tokens = Array.from({ length: count }, forged);
      return Promise.all(tokens.map((token) => adminStats({ "cf-access-jwt-assertion": token }, stormEnv)));
    };
    const start = setClock(TEST_NOW + 24 * 60 * 60_000);

    // 50 concurrent forged tokens on a cold isolate: one fetch, every answer 401.
    expect((await storm(50)).map((response) => response.status)).toEqual(Array(50).fill(401));
    expect(fetches).toBe(1);
    // More inside the cooldown: no fetch at all.
    await storm(50);
    expect(fetches).toBe(1);
    // After the cooldown: one more fetch for the next 50.
    setClock(start + JWKS_COOLDOWN_MS);
    await storm(50);
    expect(fetches).toBe(2);
    // A genuine token still passes from the cache.
    const genuine = await signAccessToken(published, claims());
    expect((await adminStats({ "cf-access-jwt-assertion": genuine }, stormEnv)).status).toBe(200);
    expect(fetches).toBe(2);

    // With the endpoint failing, a storm after the cache expired costs one fetch, then none until the failure cooldown ends.
    up = false;
    setClock(start + JWKS_CACHE_MAX_AGE_MS + JWKS_COOLDOWN_MS);
    expect(new Set((await storm(50)).map((response) => response.status))).toEqual(new Set([503]));
    expect(fetches).toBe(3);
    await storm(50);
    expect(fetches).toBe(3);
    setClock(start + JWKS_CACHE_MAX_AGE_MS + JWKS_COOLDOWN_MS + JWKS_FAILURE_COOLDOWN_MS);
    up = true;
    const later = await signAccessToken(published, claims());
    expect((await adminStats({ "cf-access-jwt-assertion": later }, stormEnv)).status).toBe(200);
    expect(fetches).toBe(4);
  });

  it("counts forged tokens toward the failure limiter: one client is throttled after 10", async () => {
    serveAccessKeys(server, team);
    const client = { "cf-connecting-ip": randomClientAddress() };
    const forger = await generateAccessKeys();
    const statuses: number[] = [];
    await insideOneLimiterWindow();
    for (let attempt = 0; attempt < 12; attempt += 1) {
      const token = await signAccessToken(forger, accessClaims("a@clinic.example"));
      const response = await worker.fetch(
        new Request("https://receiver.test/admin/stats", { headers: { ...client, "cf-access-jwt-assertion": token } }),
        accessEnv(),
      );
      statuses.push(response.status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual([429, 429]);
  });

  it("verifies the audience it is configured with", () => {
    expect(ACCESS_AUD).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("admin identity through ADMIN_TOKEN", () => {
  it.each([
    ["shorter than 32 characters", "x".repeat(31)],
    ["a value published in the repository", "dev-admin-token"],
  ])("500 misconfigured naming ADMIN_TOKEN when it is %s, even for its holder", async (_case, weak) => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const response = await adminStats({ authorization: `Bearer ${weak}` }, { ...env, ADMIN_TOKEN: weak } as Env);
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(JSON.parse(body)).toMatchObject({ error: { code: "misconfigured" } });
    expect(body).toContain("ADMIN_TOKEN");
    expect(body).not.toContain(weak);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(errors.mock.calls.map(String).join("\n")).not.toContain(weak);
  });
});
