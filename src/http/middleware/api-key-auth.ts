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

/** One accepted key: its digest, and the clinic it opens (null: every allowed clinic). */
interface KeyDigest {
  digest: ArrayBuffer;
  clinicId: string | null;
}

/** SHA-256 of every configured key, computed once per configuration (so once per isolate). */
const keyDigests = new WeakMap<WebhookConfig, Promise<KeyDigest[]>>();

function digestsOf(config: WebhookConfig): Promise<KeyDigest[]> {
  let digests = keyDigests.get(config);
  if (!digests) {
    const keys = [
      ...config.apiKeys.map((key) => ({ key, clinicId: null })),
      ...[...config.clinicKeys].flatMap(([clinicId, list]) => list.map((key) => ({ key, clinicId }))),
    ];
    digests = Promise.all(keys.map(async ({ key, clinicId }) => ({ digest: await sha256(key), clinicId })));
    keyDigests.set(config, digests);
  }
  return digests;
}

/**
 * Which key `presented` is: `{ clinicId: null }` for a shared key (every allowed clinic), the clinic
 * of a per-clinic key, or null when it is none. Both sides are compared as SHA-256 digests with the
 * runtime's constant-time comparison, so neither a key's content nor its length leaks through
 * timing; every key is compared, even after a match. A shared key wins over a per-clinic one.
 */
async function matchKey(presented: string, config: WebhookConfig): Promise<{ clinicId: string | null } | null> {
  const [digest, keys] = await Promise.all([sha256(presented), digestsOf(config)]);
  let matched: { clinicId: string | null } | null = null;
  for (const key of keys) {
    if (crypto.subtle.timingSafeEqual(digest, key.digest) && (matched === null || key.clinicId === null))
      matched = { clinicId: key.clinicId };
  }
  return matched;
}

/**
 * Authenticates NovaMed by its `x-api-key` header against every configured key: the shared ones
 * (comma-separated `NOVAMED_WEBHOOK_SECRET`, so keys rotate without downtime) and the per-clinic
 * ones (`NOVAMED_WEBHOOK_KEYS`). A per-clinic key is remembered (`keyClinicId`) so the route
 * accepts only its clinic's events.
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
    const matched = presented === undefined ? null : await matchKey(presented, config);
    if (matched) {
      if (matched.clinicId !== null) c.set("keyClinicId", matched.clinicId);
      return next();
    }
    return rejectAuthentication(c, SCOPE, {
      message: "The x-api-key header is missing or not a valid key.",
    });
  };
}
