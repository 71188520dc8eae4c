import type { Context, MiddlewareHandler } from "hono";
import { coversClinic, type StaffScope } from "../../db/scope";
import type { StaffRole } from "../../db/staff";
import { staffScopeOf } from "../../tenancy/staff";
import { ApiError } from "../errors";
import type { App } from "../types";

const RANK: Record<StaffRole, number> = { viewer: 0, operator: 1, admin: 2 };

/**
 * The role a request needs: reads (and a posted search) are for every role, except a patient's own words (an inbound
 * reply's text), which are for operators; changes (replays, releases, acknowledgements, patient edits
 * and imports) need an operator; changing a clinic profile or staff, and anything about forwarding
 * destinations (reads included: they name the clinic's systems), needs an admin.
 */
function requiredRole(method: string, path: string): StaffRole {
  if (/^\/admin\/(staff|destinations|deliveries)(\/|$)/.test(path)) return "admin";
  if (/^\/admin\/inbound-replies(\/|$)/.test(path)) return "operator";
  if (method === "GET" || method === "HEAD") return "viewer";
  // A search posted to keep the text out of the URL is a read.
  if (method === "POST" && /^\/admin\/search\/?$/.test(path)) return "viewer";
  if (/^\/admin\/clinics\/[^/]+\/?$/.test(path)) return "admin";
  return "operator";
}

/** The clinic a `/admin/clinics/:clinic_id…` path names, lower-cased; null for any other path. */
function clinicInPath(path: string): string | null {
  const match = /^\/admin\/clinics\/([^/]+)(\/|$)/.exec(path);
  return match?.[1] ? decodeURIComponent(match[1]).toLowerCase() : null;
}

/** The request's staff scope (set by {@link staffScope}, which runs before every admin route). */
export function requestScope(c: Context<App>): StaffScope {
  const scope = c.get("staffScope");
  if (!scope) throw new ApiError(403, "forbidden", "This identity is not on the staff list.");
  return scope;
}

/**
 * After `adminAuth`: resolves the actor to its staff scope (role and clinics) once per request. An
 * Access identity without a staff row (nor in `ACCESS_ADMIN_EMAILS`) gets 403; a role below what the
 * route needs gets 403; a clinic outside the identity's clinics answers 404, as an unknown one would;
 * every route then reads through the scope (`requestScope`), so other clinics' rows answer 404 too and
 * lists, counts, health and staff show the identity's clinics only (none is closed to it as a whole).
 */
export function staffScope(): MiddlewareHandler<App> {
  return async function staffScope(c, next) {
    const scope = await staffScopeOf(c.env, c.get("actor") ?? "");
    if (!scope) throw new ApiError(403, "forbidden", "This identity is not on the staff list.");
    c.set("staffScope", scope);
    if (RANK[scope.role] < RANK[requiredRole(c.req.method, c.req.path)])
      throw new ApiError(403, "forbidden", "This identity's role may not do this.");
    const clinic = clinicInPath(c.req.path);
    if (clinic !== null && !coversClinic(scope, clinic)) throw new ApiError(404, "not_found", "No clinic has this id.");
    await next();
  };
}
