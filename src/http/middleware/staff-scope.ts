import type { MiddlewareHandler } from "hono";
import type { StaffRole } from "../../db/staff";
import { type StaffScope, staffScopeOf } from "../../tenancy/staff";
import { ApiError } from "../errors";
import type { App } from "../types";

const RANK: Record<StaffRole, number> = { viewer: 0, operator: 1, admin: 2 };

/**
 * The role a request needs: reads are for every role; changes (replays, releases, acknowledgements,
 * patient edits and imports) need an operator; changing a clinic profile or staff needs an admin.
 */
function requiredRole(method: string, path: string): StaffRole {
  if (/^\/admin\/staff(\/|$)/.test(path)) return "admin";
  if (method === "GET" || method === "HEAD") return "viewer";
  if (/^\/admin\/clinics\/[^/]+\/?$/.test(path)) return "admin";
  return "operator";
}

/**
 * Routes an identity limited to some clinics may use: those that take the clinic in their path (and
 * check it, answering 404 for another clinic) and the clinic list (filtered to its clinics). The
 * other routes are not yet filtered by clinic, so they stay closed (403) to such an identity rather
 * than showing it other clinics' data.
 */
function clinicScopedPath(path: string): string | null | "list" {
  if (/^\/admin\/clinics\/?$/.test(path)) return "list";
  const match = /^\/admin\/clinics\/([^/]+)(\/|$)/.exec(path);
  return match?.[1] ? decodeURIComponent(match[1]).toLowerCase() : null;
}

/** True when `scope` covers `clinicId`. */
export function coversClinic(scope: StaffScope | undefined, clinicId: string): boolean {
  return scope !== undefined && (scope.clinics === "all" || scope.clinics.includes(clinicId.toLowerCase()));
}

/**
 * After `adminAuth`: resolves the actor to its staff scope (role and clinics) once per request. An
 * Access identity without a staff row (nor in `ACCESS_ADMIN_EMAILS`) gets 403; a role below what the
 * route needs gets 403; a clinic outside the identity's clinics answers 404, as an unknown one would.
 */
export function staffScope(): MiddlewareHandler<App> {
  return async function staffScope(c, next) {
    const scope = await staffScopeOf(c.env, c.get("actor") ?? "");
    if (!scope) throw new ApiError(403, "forbidden", "This identity is not on the staff list.");
    c.set("staffScope", scope);
    if (RANK[scope.role] < RANK[requiredRole(c.req.method, c.req.path)])
      throw new ApiError(403, "forbidden", "This identity's role may not do this.");
    if (scope.clinics !== "all") {
      const clinic = clinicScopedPath(c.req.path);
      if (clinic === null) throw new ApiError(403, "forbidden", "This route needs an identity of every clinic.");
      if (clinic !== "list" && !coversClinic(scope, clinic))
        throw new ApiError(404, "not_found", "No clinic has this id.");
    }
    await next();
  };
}
