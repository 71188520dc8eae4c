import { env } from "cloudflare:workers";
import { encodeBase64Url } from "hono/utils/encode";
import { Jwt } from "hono/utils/jwt";
import { HttpResponse, http } from "msw";
import type { setupServer } from "msw/native";
import { beforeAll } from "vitest";
import worker from "../../src/index";
import { randomClientAddress } from "./admin";
import { fetchWith } from "./clinics";
import { consoleFetch } from "./console";

/** A Cloudflare Access team and application as the tests configure them. */
export const ACCESS_TEAM = "clinic-test";
export const ACCESS_ISSUER = `https://${ACCESS_TEAM}.cloudflareaccess.com`;
export const ACCESS_CERTS_URL = `${ACCESS_ISSUER}/cdn-cgi/access/certs`;
export const ACCESS_AUD = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2";

/** `env` with Access configured (a fresh object, so the cached settings readers see it). */
export function accessEnv(overrides: Record<string, string | undefined> = {}): Env {
  return {
    ...env,
    ACCESS_TEAM_DOMAIN: `${ACCESS_TEAM}.cloudflareaccess.com`,
    ACCESS_AUD,
    // The identities the suites sign in as are admins (bootstrap); test/tenancy/staff.test.ts covers roles.
    ACCESS_ADMIN_EMAILS: "a@clinic.example,nurse@clinic.example,nurse.jones@clinic.example,pharmacist@clinic.example",
    ...overrides,
  } as Env;
}

/**
 * Two fresh clinics served behind Access: `workerEnv` as production runs the console (no admin
 * token), `adminEnv` with the token too, to seed them through the admin API.
 */
export function twoClinicsBehindAccess() {
  const a = crypto.randomUUID();
  const b = crypto.randomUUID();
  return {
    a,
    b,
    workerEnv: accessEnv({ NOVAMED_CLINIC_IDS: `${a},${b}`, ADMIN_TOKEN: undefined }),
    adminEnv: accessEnv({ NOVAMED_CLINIC_IDS: `${a},${b}` }),
  };
}

export interface AccessKeyPair {
  kid: string;
  privateJwk: JsonWebKey & { kid: string; alg: "RS256" };
  publicJwk: JsonWebKey & { kid: string; alg: "RS256" };
}

/** A fresh RS256 key pair, as Access signs with, generated with WebCrypto. */
export async function generateAccessKeys(kid = crypto.randomUUID()): Promise<AccessKeyPair> {
  const pair = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const privateJwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  const publicJwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  return {
    kid,
    privateJwk: { ...privateJwk, kid, alg: "RS256" },
    publicJwk: { kty: publicJwk.kty, n: publicJwk.n, e: publicJwk.e, kid, alg: "RS256" },
  };
}

/** Serves the team's JWKS in Access's shape (`keys` plus the legacy `public_cert(s)`). */
export function serveAccessKeys(server: ReturnType<typeof setupServer>, ...pairs: AccessKeyPair[]): void {
  server.use(
    http.get(ACCESS_CERTS_URL, () =>
      HttpResponse.json({
        keys: pairs.map((pair) => ({ ...pair.publicJwk, use: "sig" })),
        public_cert: { kid: pairs[0]?.kid, cert: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----" },
        public_certs: [],
      }),
    ),
  );
}

/** Claims of an Access application token for `email`, valid for ten minutes from the test clock. */
export function accessClaims(email: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    aud: [ACCESS_AUD],
    email,
    exp: now + 600,
    iat: now,
    nbf: now,
    iss: ACCESS_ISSUER,
    type: "app",
    identity_nonce: "6ei69kawdKzMIAPF",
    sub: "7335d417-61da-459d-899c-0a01c76a2f94",
    country: "US",
    ...overrides,
  };
}

/** An Access assertion signed with `pair`. */
export function signAccessToken(pair: AccessKeyPair, claims: Record<string, unknown>): Promise<string> {
  return Jwt.sign(claims as Parameters<typeof Jwt.sign>[0], pair.privateJwk);
}

/**
 * A Cloudflare Access team for one test file: its key pair is made once (in `beforeAll`), and every
 * assertion serves the team's keys on `server` first, so the verifier finds them whatever ran before.
 */
export function useAccessTeam(server: ReturnType<typeof setupServer>) {
  let team: AccessKeyPair | undefined;
  beforeAll(async () => {
    team = await generateAccessKeys();
  });
  const keys = (): AccessKeyPair => {
    if (!team) throw new Error("the Access team's keys are made in beforeAll");
    return team;
  };
  /** Serves the team's keys and signs an assertion for `email` (`overrides` on top of its claims). */
  const assertion = (email: string, overrides: Record<string, unknown> = {}): Promise<string> => {
    serveAccessKeys(server, keys());
    return signAccessToken(keys(), accessClaims(email, overrides));
  };
  return {
    assertion,
    /** `/admin${path}` on a Worker running with `workerEnv`, as the Access identity `email`. */
    async adminFetch(workerEnv: Env, email: string, path: string, init: RequestInit = {}): Promise<Response> {
      const headers = new Headers(init.headers);
      headers.set("cf-access-jwt-assertion", await assertion(email));
      headers.set("cf-connecting-ip", randomClientAddress());
      if (init.body !== undefined) headers.set("content-type", "application/json");
      return fetchWith(workerEnv, new Request(`https://receiver.test/admin${path}`, { ...init, headers }));
    },
    /** Console pages of a Worker running with `workerEnv`, as `email` (a `form` posts it). */
    async consoleAs(workerEnv: Env, email: string) {
      const headers = { "cf-access-jwt-assertion": await assertion(email) };
      return (path: string, form?: Record<string, string>): Promise<Response> =>
        consoleFetch(path, { headers, ...(form ? { form } : {}) }, async (request) => {
          request.headers.set("cf-connecting-ip", randomClientAddress());
          return worker.fetch(request, workerEnv);
        });
    },
  };
}

const encodePart = (part: unknown) => {
  const bytes = new TextEncoder().encode(JSON.stringify(part));
  return encodeBase64Url(bytes.buffer as ArrayBuffer).replace(/=+$/, "");
};

/** An unsigned token (`alg: none`) with the given claims. */
export function unsignedToken(kid: string, claims: Record<string, unknown>): string {
  return `${encodePart({ alg: "none", typ: "JWT", kid })}.${encodePart(claims)}.`;
}

/** The alg-confusion forgery: HS256 with the team's public key (as published) as the HMAC secret. */
export async function publicKeyHmacToken(pair: AccessKeyPair, claims: Record<string, unknown>): Promise<string> {
  const header = encodePart({ alg: "HS256", typ: "JWT", kid: pair.kid });
  const body = encodePart(claims);
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(JSON.stringify(pair.publicJwk)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${header}.${body}`));
  return `${header}.${body}.${encodeBase64Url(signature).replace(/=+$/, "")}`;
}

/**
 * A console client signed in through Access as `identity` (a new team key pair, served by `server`)
 * against the Worker with `workerEnv`; each request comes from a new client address. A form posts.
 */
export async function consoleAsAccessIdentity(
  server: ReturnType<typeof setupServer>,
  workerEnv: Env,
  identity: string,
): Promise<(path: string, form?: Record<string, string>) => Promise<Response>> {
  const pair = await generateAccessKeys();
  serveAccessKeys(server, pair);
  const headers = { "cf-access-jwt-assertion": await signAccessToken(pair, accessClaims(identity)) };
  return (path, form) =>
    consoleFetch(path, { headers, ...(form ? { form } : {}) }, async (request) => {
      request.headers.set("cf-connecting-ip", randomClientAddress());
      return worker.fetch(request, workerEnv);
    });
}
