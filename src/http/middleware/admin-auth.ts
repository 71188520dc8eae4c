import type { MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { readAdminToken } from "../../config/admin";
import type { App } from "../types";

/** The one 401 of the admin API, for a missing, malformed or wrong bearer token alike. */
function unauthorized(): Response {
  return Response.json(
    { error: { code: "unauthorized", message: "A valid Authorization: Bearer token is required." } },
    { status: 401 },
  );
}

/**
 * Hono's `bearer-auth` against `ADMIN_TOKEN` (compared in constant time). Every failure is a 401 in the
 * contract's error shape; bearer-auth's own 400 for a malformed header would tell a prober more.
 */
export function adminAuth(): MiddlewareHandler<App> {
  return async function adminAuth(c, next) {
    const token = readAdminToken(c.env);
    return bearerAuth<App>({
      token,
      noAuthenticationHeader: { message: unauthorized },
      invalidAuthenticationHeader: { message: unauthorized },
      invalidToken: { message: unauthorized },
    })(c, next);
  };
}
