import { timingSafeEqual } from "hono/utils/buffer";
import { createRemoteJWKSet, customFetch, errors, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { AccessSettings } from "../config/access";
import type { AdminIdentitySettings } from "../config/admin";
import { errorKind, log } from "../log";
import { ApiError } from "./errors";

/**
 * Who is calling the admin API or the console. Two sources: a Cloudflare Access JWT
 * (`Cf-Access-Jwt-Assertion`, verified here against the team's keys, audience, issuer and expiry:
 * Access in front of the Worker is not trusted blindly, a request that bypasses it must still fail),
 * and the `ADMIN_TOKEN` bearer token for scripts and local use.
 *
 * The team's keys come from `jose`'s `createRemoteJWKSet`: cached per isolate for
 * {@link JWKS_CACHE_MAX_AGE_MS}, fetched again for a token naming an unknown key id at most once per
 * {@link JWKS_COOLDOWN_MS}, each fetch cut off after {@link JWKS_TIMEOUT_MS}. On workerd jose does
 * not share one fetch between concurrent requests (a promise must not carry I/O across requests), so
 * its fetch goes through {@link sharedKeysFetch}: one fetch in flight per certs URL, whose text every
 * waiter reads (each under its own timeout), and after a failed fetch none for
 * {@link JWKS_FAILURE_COOLDOWN_MS}. A storm of forged tokens therefore costs a bounded number of
 * fetches, and each forged token is an ordinary failure (401, counted by the failure limiter).
 */

export const ACCESS_ASSERTION_HEADER = "Cf-Access-Jwt-Assertion";

/** Access signs with RS256; any other algorithm (HS256 with the public key, `none`) is refused. */
const ACCESS_ALGORITHMS = ["RS256"];

/** How long fetched keys are used before they are fetched again, whatever the tokens name. */
export const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;
/**
 * At most one refetch per this interval for tokens naming unknown keys: a rotation is picked up within
 * seconds, while forged key ids cannot turn each request into an outbound fetch.
 */
export const JWKS_COOLDOWN_MS = 30_000;
/** A keys fetch that has not answered by then fails (503 `identity_unavailable`). */
export const JWKS_TIMEOUT_MS = 5_000;
/** After a failed keys fetch, requests needing a fetch answer 503 without one for this long. */
export const JWKS_FAILURE_COOLDOWN_MS = 10_000;

/** The team's keys could not be read: answered 503, never counted as a failed sign-in. */
class KeysUnavailable extends Error {
  override name = "KeysUnavailable";
}

/** Per certs URL, per isolate: the fetch in flight (its body text) and when the last one failed. */
const keyFetches = new Map<string, { inFlight?: Promise<string>; failedAt?: number }>();

/** Resolves with `promise`, or rejects with the signal's reason once it aborts (the waiter's own timeout). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/**
 * jose's fetch of the team's keys, made single-flight: concurrent callers share one outbound fetch
 * (only its body text crosses requests, each caller builds its own Response), and a failed fetch
 * holds further ones off for {@link JWKS_FAILURE_COOLDOWN_MS}.
 */
export async function sharedKeysFetch(url: string, init: RequestInit & { signal: AbortSignal }): Promise<Response> {
  let state = keyFetches.get(url);
  if (!state) {
    state = {};
    keyFetches.set(url, state);
  }
  const sinceFailure = state.failedAt === undefined ? Number.POSITIVE_INFINITY : Date.now() - state.failedAt;
  if (!state.inFlight && sinceFailure >= 0 && sinceFailure < JWKS_FAILURE_COOLDOWN_MS) {
    throw new KeysUnavailable("a recent keys fetch failed");
  }
  if (!state.inFlight) {
    const current = state;
    const flight = fetch(url, { ...init, signal: AbortSignal.timeout(JWKS_TIMEOUT_MS) })
      .then(async (response) => {
        if (response.status !== 200) {
          await response.body?.cancel();
          log.error("access keys unavailable", { status: response.status });
          throw new KeysUnavailable(`keys answered ${response.status}`);
        }
        return response.text();
      })
      .then(
        (text) => {
          current.failedAt = undefined;
          return text;
        },
        (error: unknown) => {
          current.failedAt = Date.now();
          if (!(error instanceof KeysUnavailable)) log.error("access keys unavailable", { error: errorKind(error) });
          throw error instanceof KeysUnavailable ? error : new KeysUnavailable("keys fetch failed");
        },
      )
      .finally(() => {
        if (current.inFlight === flight) current.inFlight = undefined;
      });
    current.inFlight = flight;
  }
  const text = await untilAborted(state.inFlight as Promise<string>, init.signal);
  return new Response(text, { status: 200, headers: { "content-type": "application/json" } });
}

/** jose's remote key set per certs URL, per isolate. */
const keySets = new Map<string, JWTVerifyGetKey>();

function keySetFor(certsUrl: string): JWTVerifyGetKey {
  let keySet = keySets.get(certsUrl);
  if (!keySet) {
    keySet = createRemoteJWKSet(new URL(certsUrl), {
      timeoutDuration: JWKS_TIMEOUT_MS,
      cooldownDuration: JWKS_COOLDOWN_MS,
      cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
      [customFetch]: sharedKeysFetch,
    });
    keySets.set(certsUrl, keySet);
  }
  return keySet;
}

function identityUnavailable(): ApiError {
  return new ApiError(503, "identity_unavailable", "The identity provider's keys could not be read; retry later.", {
    headers: { "Retry-After": String(JWKS_FAILURE_COOLDOWN_MS / 1000) },
  });
}

/**
 * The actor an Access JWT proves at `now`: the user's email, or `service:<client id>` for an Access
 * service token. Null for any token that fails: signature (RS256 against the team's JWKS only),
 * audience, issuer, missing or past expiry, not yet valid. Throws 503 `identity_unavailable` when
 * the team's keys are needed and cannot be read.
 */
export async function verifyAccessAssertion(
  assertion: string,
  access: AccessSettings,
  now: Date,
): Promise<string | null> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(assertion, keySetFor(access.certsUrl), {
      algorithms: ACCESS_ALGORITHMS,
      audience: access.audience,
      issuer: access.issuer,
      requiredClaims: ["exp"],
      currentDate: now,
    }));
  } catch (error) {
    if (
      error instanceof KeysUnavailable ||
      error instanceof errors.JWKSTimeout ||
      error instanceof errors.JWKSInvalid
    ) {
      throw identityUnavailable();
    }
    return null;
  }
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
