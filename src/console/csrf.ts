import type { MiddlewareHandler } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import type { ConsoleApp } from "./types";

/** The hidden form field every console form carries. */
export const CSRF_FIELD = "_csrf";

/**
 * The second CSRF defence, after Hono's origin check: every state-changing request must carry the
 * session's CSRF token in its form body (compared in constant time). A forged cross-site form cannot
 * know the token, even from a browser that sends no `Origin` header.
 */
export function requireCsrfToken(): MiddlewareHandler<ConsoleApp> {
  return async function requireCsrfToken(c, next) {
    if (c.req.method === "GET" || c.req.method === "HEAD") return next();
    const body = await c.req.parseBody();
    const presented = body[CSRF_FIELD];
    if (typeof presented !== "string" || !(await timingSafeEqual(presented, c.get("csrfToken")))) {
      return c.text("This form has expired or did not come from the console; reload the page and try again.", 403);
    }
    return next();
  };
}
