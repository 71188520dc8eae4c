import type { Context, MiddlewareHandler } from "hono";
import type { StaffScope } from "../db/scope";
import type { StaffRole } from "../db/staff";
import { staffScopeOf } from "../tenancy/staff";
import type { ConsoleApp } from "./types";

const RANK: Record<StaffRole, number> = { viewer: 0, operator: 1, admin: 2 };

/**
 * The role a console request needs, as on the admin API: pages are for every role, except a patient's
 * own words (an inbound reply's page), which are for operators; every change (reveal, replay,
 * acknowledge) needs an operator; editing a clinic needs an admin, and forwarding destinations (pages
 * included: they name the clinic's systems) too. Signing out and searching are for everyone.
 */
function requiredRole(method: string, path: string): StaffRole {
  if (/^\/console\/destinations(\/|$)/.test(path)) return "admin";
  if (/^\/console\/inbound-replies(\/|$)/.test(path)) return "operator";
  // Signing out, and a search (posted to keep a phone or email out of the URL), are not changes.
  if (method === "GET" || method === "HEAD" || /^\/console\/(logout|search)\/?$/.test(path)) return "viewer";
  if (/^\/console\/clinics(\/|$)/.test(path)) return "admin";
  return "operator";
}

/**
 * After the console's identity: resolves the actor to its staff scope, as the admin API does (the
 * admin token's session and `ACCESS_ADMIN_EMAILS` are admins of every clinic; any other Access
 * identity has its staff row's role and clinics, or none: 403). A role below what the request needs
 * gets 403. Every page then reads through the scope, so other clinics' rows do not exist for it.
 */
export function consoleScope(): MiddlewareHandler<ConsoleApp> {
  return async function consoleScope(c, next) {
    const scope = await staffScopeOf(c.env, c.get("actor"));
    if (!scope) return c.text("This identity is not on the staff list.", 403);
    c.set("staffScope", scope);
    if (RANK[scope.role] < RANK[requiredRole(c.req.method, c.req.path)])
      return c.text("Your role may not do this.", 403);
    return next();
  };
}

/** The request's staff scope (set by {@link consoleScope} before every page). */
export function scopeOf(c: Context<ConsoleApp>): StaffScope {
  const scope = c.get("staffScope");
  if (!scope) throw new Error("console page without a staff scope");
  return scope;
}

/** True when the request's role may change things (reveal, replay, acknowledge): operators and admins. */
export function mayOperate(c: Context<ConsoleApp>): boolean {
  return RANK[scopeOf(c).role] >= RANK.operator;
}
