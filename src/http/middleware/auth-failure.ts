import type { Context } from "hono";
import { ApiError } from "../errors";

/**
 * The failed-authentication limiter, without a guessing oracle.
 *
 * `AUTH_FAILURE_LIMITER` (10 failures per client per minute) is consulted only after a failure:
 * the binding counts every `limit()` call, so a valid caller never touches it and can never be
 * throttled by it. Once it refuses a client, this isolate remembers the client until the window
 * ends and refuses it before any comparison, whatever it presents (429 even for the right key):
 * otherwise a client over the limit would still learn which guess was right. Refusals are kept
 * per client address and per surface (`scope`), so failures from one address never lock out a
 * valid caller at another.
 */

/** Seconds a throttled client is told to wait; the limiter's window (wrangler.toml `period`). */
export const AUTH_FAILURE_RETRY_AFTER_SECONDS = 60;
const WINDOW_MS = AUTH_FAILURE_RETRY_AFTER_SECONDS * 1000;

/** Refused clients remembered at most per isolate; a flood of addresses cannot grow memory further. */
export const MAX_REMEMBERED_REFUSALS = 10_000;

/** `scope:client` → until when (epoch ms) this isolate refuses the client, in insertion order. */
const refusedUntil = new Map<string, number>();

function clientKey(c: Context, scope: string): string {
  return `${scope}:${c.req.header("cf-connecting-ip") ?? "unknown"}`;
}

/** Milliseconds left of the client's refusal, or 0 when it is not refused (an expired entry is dropped). */
function refusalLeft(key: string, now: number): number {
  const until = refusedUntil.get(key);
  if (until === undefined) return 0;
  if (until > now) return until - now;
  refusedUntil.delete(key);
  return 0;
}

function rememberRefusal(key: string, now: number): void {
  refusedUntil.delete(key);
  if (refusedUntil.size >= MAX_REMEMBERED_REFUSALS) {
    for (const [other, until] of refusedUntil) if (until <= now) refusedUntil.delete(other);
  }
  // Still full of live refusals: the oldest goes first (the limiter itself still counts its failures).
  while (refusedUntil.size >= MAX_REMEMBERED_REFUSALS) {
    const oldest = refusedUntil.keys().next().value;
    if (oldest === undefined) break;
    refusedUntil.delete(oldest);
  }
  refusedUntil.set(key, now + WINDOW_MS);
}

/**
 * Seconds the client must still wait when this isolate refuses it on `scope`, else null. Call it
 * before comparing any credential; it never consults the limiter.
 */
export function refusedClientRetryAfter(c: Context, scope: string): number | null {
  const left = refusalLeft(clientKey(c, scope), Date.now());
  return left > 0 ? Math.ceil(left / 1000) : null;
}

function rateLimited(retryAfterSeconds: number): ApiError {
  return new ApiError(429, "rate_limited", "Too many failed authentication attempts; retry later.", {
    headers: { "Retry-After": String(retryAfterSeconds) },
  });
}

/** Throws the contract's 429 when this isolate refuses the client on `scope`; call before any comparison. */
export function refuseRefusedClient(c: Context, scope: string): void {
  const retryAfter = refusedClientRetryAfter(c, scope);
  if (retryAfter !== null) throw rateLimited(retryAfter);
}

/**
 * Counts one failed authentication of the client and tells whether the client is refused. Called
 * only after a failure, so a valid caller never touches the limiter; a client already refused is
 * not counted again. A refusal is remembered for the rest of the window.
 */
export async function failedAuthenticationThrottled(c: Context, scope: string): Promise<boolean> {
  const key = clientKey(c, scope);
  if (refusalLeft(key, Date.now()) > 0) return true;
  const { success } = await c.env.AUTH_FAILURE_LIMITER.limit({ key });
  if (!success) rememberRefusal(key, Date.now());
  return !success;
}

/** Throws the contract's 429 when the client is over its failure limit, else the 401 (or `status`). */
export async function rejectAuthentication(
  c: Context,
  scope: string,
  failure: { status?: 401 | 403; code?: string; message: string },
): Promise<never> {
  if (await failedAuthenticationThrottled(c, scope)) throw rateLimited(AUTH_FAILURE_RETRY_AFTER_SECONDS);
  throw new ApiError(failure.status ?? 401, failure.code ?? "unauthorized", failure.message);
}
