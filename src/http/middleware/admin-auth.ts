import type { MiddlewareHandler } from "hono";
import { readAdminIdentity } from "../../config/admin";
import { identifyAdminRequest } from "../identity";
import type { App } from "../types";
import { refuseRefusedClient, rejectAuthentication } from "./auth-failure";

/** The admin API's failure-limiter scope. */
const SCOPE = "admin-auth";

/**
 * The admin API's identity: a verified Cloudflare Access JWT (actor = its email) or the
 * `ADMIN_TOKEN` bearer token (actor = `ADMIN_TOKEN_ACTOR`). Every failure is the same 401, and
 * repeated failures from one client 429 (then 429 before any check for the rest of the window, even
 * with a valid credential); a weak or missing configuration is 500 `misconfigured`.
 */
export function adminAuth(): MiddlewareHandler<App> {
  return async function adminAuth(c, next) {
    const settings = readAdminIdentity(c.env);
    refuseRefusedClient(c, SCOPE);
    const actor = await identifyAdminRequest(c.req.raw, settings, new Date());
    if (actor === null) {
      return rejectAuthentication(c, SCOPE, {
        message: "A valid Cloudflare Access identity or Authorization: Bearer token is required.",
      });
    }
    c.set("actor", actor);
    await next();
  };
}
