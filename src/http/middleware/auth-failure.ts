import type { Context } from "hono";
import { ApiError } from "../errors";

/** Seconds a throttled client is told to wait; the limiter's window. */
export const AUTH_FAILURE_RETRY_AFTER_SECONDS = 60;

/**
 * Counts one failed authentication of the client against `AUTH_FAILURE_LIMITER` and tells whether
 * the client is over its limit. Called only after a failure, so a valid caller never touches the
 * limiter and can never be throttled by it. `scope` keeps the surfaces' counters apart.
 */
export async function failedAuthenticationThrottled(c: Context, scope: string): Promise<boolean> {
  const client = c.req.header("cf-connecting-ip") ?? "unknown";
  const { success } = await c.env.AUTH_FAILURE_LIMITER.limit({ key: `${scope}:${client}` });
  return !success;
}

/** Throws the contract's 429 when the client is over its failure limit, else the 401 (or `status`). */
export async function rejectAuthentication(
  c: Context,
  scope: string,
  failure: { status?: 401 | 403; code?: string; message: string },
): Promise<never> {
  if (await failedAuthenticationThrottled(c, scope)) {
    throw new ApiError(429, "rate_limited", "Too many failed authentication attempts; retry later.", {
      headers: { "Retry-After": String(AUTH_FAILURE_RETRY_AFTER_SECONDS) },
    });
  }
  throw new ApiError(failure.status ?? 401, failure.code ?? "unauthorized", failure.message);
}
