import { timingSafeEqual } from "hono/utils/buffer";
import { Jwt } from "hono/utils/jwt";
import type { HonoJsonWebKey } from "hono/utils/jwt/jws";
import type { AccessSettings } from "../config/access";
import type { AdminIdentitySettings } from "../config/admin";
import { errorKind, log } from "../log";
import { ApiError } from "./errors";

/**
 * Who is calling the admin API or the console. Two sources: a Cloudflare Access JWT
 * (`Cf-Access-Jwt-Assertion`, verified here against the team's keys, audience, issuer and expiry:
 * Access in front of the Worker is not trusted blindly, a request that bypasses it must still fail),
 * and the `ADMIN_TOKEN` bearer token for scripts and local use.
 */

export const ACCESS_ASSERTION_HEADER = "Cf-Access-Jwt-Assertion";

/** Access signs with RS256; any other algorithm (HS256 with the public key, `none`) is refused. */
const ACCESS_ALGORITHMS = ["RS256"] as const;

/** The team's keys per certs URL, per isolate. Refetched when a token names a key we lack (rotation). */
const jwksCache = new Map<string, { keys: HonoJsonWebKey[]; fetchedAt: number }>();

/**
 * At most one refetch per this interval for tokens naming unknown keys: a rotation is picked up within
 * seconds, while forged key ids cannot turn each request into an outbound fetch.
 */
export const JWKS_REFETCH_INTERVAL_MS = 30_000;

async function fetchSigningKeys(certsUrl: string, now: Date): Promise<HonoJsonWebKey[]> {
  let response: Response;
  try {
    response = await fetch(certsUrl, { headers: { accept: "application/json" } });
  } catch (error) {
    log.error("access keys unavailable", { error: errorKind(error) });
    throw identityUnavailable();
  }
  const body = (await response.json().catch(() => null)) as { keys?: unknown } | null;
  if (!response.ok || !Array.isArray(body?.keys)) {
    log.error("access keys unavailable", { status: response.status });
    throw identityUnavailable();
  }
  const keys = body.keys as HonoJsonWebKey[];
  jwksCache.set(certsUrl, { keys, fetchedAt: now.getTime() });
  return keys;
}

function identityUnavailable(): ApiError {
  return new ApiError(503, "identity_unavailable", "The identity provider's keys could not be read; retry later.", {
    headers: { "Retry-After": "30" },
  });
}

function keyIdOf(assertion: string): string | undefined {
  try {
    const kid = Jwt.decode(assertion).header.kid;
    return typeof kid === "string" ? kid : undefined;
  } catch {
    return undefined;
  }
}

/** The cached keys when they hold the token's key id or were fetched moments ago; otherwise a fresh fetch. */
async function signingKeysFor(assertion: string, certsUrl: string, now: Date): Promise<HonoJsonWebKey[]> {
  const cached = jwksCache.get(certsUrl);
  const kid = keyIdOf(assertion);
  if (cached && kid !== undefined && cached.keys.some((key) => key.kid === kid)) return cached.keys;
  if (kid === undefined) return cached?.keys ?? [];
  if (cached && now.getTime() - cached.fetchedAt < JWKS_REFETCH_INTERVAL_MS) return cached.keys;
  return fetchSigningKeys(certsUrl, now);
}

/**
 * The actor an Access JWT proves at `now`: the user's email, or `service:<client id>` for an Access
 * service token. Null for any token that fails: signature (RS256 against the team's JWKS only),
 * audience, issuer, missing or past expiry.
 */
export async function verifyAccessAssertion(
  assertion: string,
  access: AccessSettings,
  now: Date,
): Promise<string | null> {
  const keys = await signingKeysFor(assertion, access.certsUrl, now);
  let payload: Record<string, unknown>;
  try {
    payload = await Jwt.verifyWithJwks(assertion, {
      keys,
      allowedAlgorithms: ACCESS_ALGORITHMS,
      verification: { aud: access.audience, iss: access.issuer },
    });
  } catch {
    return null;
  }
  // Hono checks `exp` only when present; an Access token always carries one, so require it.
  if (typeof payload.exp !== "number" || payload.exp * 1000 <= now.getTime()) return null;
  if (typeof payload.email === "string" && payload.email.includes("@")) return payload.email.toLowerCase();
  if (typeof payload.common_name === "string" && payload.common_name !== "") return `service:${payload.common_name}`;
  return null;
}

/** True when `presented` is the admin token (constant time). */
export async function isAdminToken(presented: string, token: string | null): Promise<boolean> {
  return token !== null && presented !== "" && (await timingSafeEqual(presented, token));
}

/** The bearer credential of an `Authorization` header, or null. */
export function bearerCredential(authorization: string | undefined): string | null {
  const match = /^Bearer +([^\s]+) *$/i.exec(authorization ?? "");
  return match?.[1] ?? null;
}

/**
 * The actor of an admin API request, or null when it proves no identity. An Access assertion, when
 * present and Access is configured, decides alone (an invalid one is never rescued by a token);
 * otherwise the bearer token.
 */
export async function identifyAdminRequest(
  request: Request,
  settings: AdminIdentitySettings,
  now: Date,
): Promise<string | null> {
  const assertion = request.headers.get(ACCESS_ASSERTION_HEADER);
  if (assertion && settings.access) return verifyAccessAssertion(assertion, settings.access, now);
  const presented = bearerCredential(request.headers.get("authorization") ?? undefined);
  if (presented !== null && (await isAdminToken(presented, settings.token))) return settings.tokenActor;
  return null;
}
