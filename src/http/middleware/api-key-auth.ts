import type { MiddlewareHandler } from "hono";
import { readWebhookConfig, type WebhookConfig } from "../../config/webhook";
import type { App } from "../types";
import { refuseRefusedClient, rejectAuthentication } from "./auth-failure";

/** The edge's failure-limiter scope. */
const SCOPE = "auth-failure";

const encoder = new TextEncoder();

async function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", encoder.encode(text));
}

/** SHA-256 of every configured key, computed once per configuration (so once per isolate). */
const keyDigests = new WeakMap<WebhookConfig, Promise<ArrayBuffer[]>>();

function digestsOf(config: WebhookConfig): Promise<ArrayBuffer[]> {
  let digests = keyDigests.get(config);
  if (!digests) {
    digests = Promise.all(config.apiKeys.map(sha256));
    keyDigests.set(config, digests);
  }
  return digests;
}

/**
 * True when `presented` is one of the keys. Both sides are compared as SHA-256 digests with the
 * runtime's constant-time comparison, so neither a key's content nor its length leaks through
 * timing; every key is compared, even after a match.
 */
async function matchesAnyKey(presented: string, config: WebhookConfig): Promise<boolean> {
  const [digest, keys] = await Promise.all([sha256(presented), digestsOf(config)]);
  let matched = false;
  for (const key of keys) matched = crypto.subtle.timingSafeEqual(digest, key) || matched;
  return matched;
}

/**
 * Authenticates NovaMed by its `x-api-key` header against every configured key (comma-separated
 * `NOVAMED_WEBHOOK_SECRET`, so keys rotate without downtime).
 *
 * Only failures consult the rate limiter: a client that keeps guessing gets 429, and once refused it
 * gets 429 before any comparison for the rest of the window, whatever it presents (no guessing
 * oracle); a request with a valid key never touches the limiter. See ./auth-failure.ts.
 */
export function apiKeyAuth(): MiddlewareHandler<App> {
  return async function apiKeyAuth(c, next) {
    const config = readWebhookConfig(c.env);
    refuseRefusedClient(c, SCOPE);
    const presented = c.req.header("x-api-key");
    if (presented !== undefined && (await matchesAnyKey(presented, config))) {
      return next();
    }
    return rejectAuthentication(c, SCOPE, {
      message: "The x-api-key header is missing or not a valid key.",
    });
  };
}
