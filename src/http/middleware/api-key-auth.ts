import type { MiddlewareHandler } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import { readWebhookConfig } from "../../config";
import { ApiError } from "../errors";
import type { App } from "../types";

/** Seconds a throttled client is told to wait; the limiter's window. */
const RATE_LIMIT_RETRY_AFTER_SECONDS = 60;

/**
 * Authenticates NovaMed by its `x-api-key` header against every configured key (comma-separated
 * `NOVAMED_WEBHOOK_SECRET`, so keys rotate without downtime). Each comparison hashes both sides
 * first (Hono's `timingSafeEqual`), so neither content nor length leaks through timing, and every
 * key is compared even after a match.
 *
 * Only failures consult the rate limiter: a client that keeps guessing gets 429, while a request
 * with a valid key never touches the limiter and so can never be throttled by it.
 */
export function apiKeyAuth(): MiddlewareHandler<App> {
  return async function apiKeyAuth(c, next) {
    const { apiKeys } = readWebhookConfig(c.env);
    const presented = c.req.header("x-api-key");
    if (presented !== undefined && (await matchesAnyKey(presented, apiKeys))) {
      return next();
    }
    const client = c.req.header("cf-connecting-ip") ?? "unknown";
    const { success } = await c.env.AUTH_FAILURE_LIMITER.limit({ key: `auth-failure:${client}` });
    if (!success) {
      throw new ApiError(429, "rate_limited", "Too many failed authentication attempts; retry later.", {
        headers: { "Retry-After": String(RATE_LIMIT_RETRY_AFTER_SECONDS) },
      });
    }
    throw new ApiError(401, "unauthorized", "The x-api-key header is missing or not a valid key.");
  };
}

async function matchesAnyKey(presented: string, keys: string[]): Promise<boolean> {
  const results = await Promise.all(keys.map((key) => timingSafeEqual(presented, key)));
  return results.includes(true);
}
