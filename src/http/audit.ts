import type { Context, Env as HonoEnv, MiddlewareHandler } from "hono";
import { type AuditActor, type AuditOutcome, insertAuditEntry } from "../db/audit";
import { errorKind, log } from "../log";
import { ApiError } from "./errors";
import type { App } from "./types";

/**
 * The audit trail's writers. A route that reads patient data or changes anything gets one line:
 *
 *     admin.get("/notifications/:notification_id", audited("notification.read", "notification", "notification_id"), handler)
 *
 * and every request to it writes one row (actor, action, target, request id, time, outcome) after the
 * handler has answered, whatever the answer. Reads fail closed: when the row cannot be written the
 * caller gets 503 `audit_unavailable` instead of the data.
 */

/** The Hono environments that carry an actor: the admin API's and the console's. */
type AuditedApp = HonoEnv & { Bindings: Env; Variables: App["Variables"] };

/** What one audit row says about its target; counts only, for actions over many targets. */
export interface AuditTarget {
  action: string;
  targetType: string;
  targetId: string;
  detail?: Record<string, number>;
}

/** The outcome an HTTP status stands for. */
export function outcomeOf(status: number): AuditOutcome {
  if (status < 400) return "success";
  if (status === 404) return "not_found";
  if (status < 500) return "rejected";
  return "error";
}

/** Writes one audit row for this request, at `now`. Throws when D1 refuses the row. */
export async function recordAudit<E extends AuditedApp>(
  c: Context<E>,
  target: AuditTarget,
  outcome: { status: number; now?: Date },
): Promise<void> {
  await insertAuditEntry(c.env.DB, {
    at: (outcome.now ?? new Date()).toISOString(),
    actor: c.get("actor") ?? "unknown",
    action: target.action,
    target_type: target.targetType,
    target_id: target.targetId,
    request_id: c.get("requestId") ?? null,
    outcome: outcomeOf(outcome.status),
    status: outcome.status,
    detail: target.detail ?? null,
    clinic_id: c.get("auditClinic") ?? null,
    role: c.get("staffScope")?.role ?? null,
  });
}

/** This request's actor, role and id, for audit rows written beside a change (a bulk replay's, per event). */
export function auditActorOf<E extends AuditedApp>(c: Context<E>): AuditActor {
  return {
    actor: c.get("actor") ?? "unknown",
    role: c.get("staffScope")?.role ?? null,
    requestId: c.get("requestId") ?? null,
  };
}

/** Adds counts to the audit row of the current request, e.g. rows imported (never values). */
export function setAuditDetail<E extends AuditedApp>(c: Context<E>, detail: Record<string, number>): void {
  c.set("auditDetail", detail);
}

/** Records the clinic the current request's audit row is about (its own column, beside the target). */
export function setAuditClinic<E extends AuditedApp>(c: Context<E>, clinicId: string): void {
  c.set("auditClinic", clinicId);
}

/**
 * Middleware writing one audit row per request: `action` on `targetType`, whose id is the route
 * parameter `idParam` (or a fixed id such as `*` for an action over many targets).
 */
export function audited<E extends AuditedApp>(
  action: string,
  targetType: string,
  idParam: string | { fixed: string },
): MiddlewareHandler<E> {
  return async function audit(c, next) {
    const targetId = typeof idParam === "string" ? (c.req.param(idParam) ?? "") : idParam.fixed;
    await auditAround(c, next, action, targetType, targetId);
  };
}

/** The target type of a search's audit row: its target id is the search text itself. */
export const SEARCH_TARGET = "search";
/** A search text longer than this (every search field refuses it anyway) is recorded cut to it. */
const MAX_SEARCH_TARGET_LENGTH = 200;

/**
 * Middleware auditing a list that can be searched by a patient or entity id: a request whose query
 * parameter `queryParam` is non-empty writes `action` on target type `search` with the search text
 * as target id. Without a search, `unsearched` says what happens: `{ targetType }` audits the list
 * as `*` of that type (a list whose rows name patients either way), `"not_audited"` writes nothing
 * (a list that names no patient unless searched).
 */
export function auditedSearch<E extends AuditedApp>(
  action: string,
  queryParam: string,
  unsearched: { targetType: string } | "not_audited",
  /** What the row records for a search text that may be a contact detail (never the value itself). */
  recorded: (c: Context<E>, text: string) => string | Promise<string> = (_c, text) => text,
): MiddlewareHandler<E> {
  return async function auditSearch(c, next) {
    const text = await searchTextOf(c, queryParam);
    if (text !== "") {
      const target = (await recorded(c, text)).slice(0, MAX_SEARCH_TARGET_LENGTH);
      return auditAround(c, next, action, SEARCH_TARGET, target);
    }
    if (unsearched === "not_audited") return next();
    return auditAround(c, next, action, unsearched.targetType, "*");
  };
}

/**
 * The search text of a request: the query parameter of a GET, the field of a POST's JSON or form
 * body (a search by POST keeps a phone or email out of the URL, which request logs record). Hono
 * keeps the parsed body, so the route's own validator reads it again.
 */
async function searchTextOf(c: Context, name: string): Promise<string> {
  if (c.req.method === "GET" || c.req.method === "HEAD") return c.req.query(name)?.trim() ?? "";
  const json = (c.req.header("content-type") ?? "").includes("application/json");
  const body: unknown = await (json ? c.req.json() : c.req.parseBody()).catch(() => null);
  const value = body && typeof body === "object" ? (body as Record<string, unknown>)[name] : undefined;
  return typeof value === "string" ? value.trim() : "";
}

/** Runs the handler, then writes the request's audit row; fails closed for reads. */
async function auditAround<E extends AuditedApp>(
  c: Context<E>,
  next: () => Promise<void>,
  action: string,
  targetType: string,
  targetId: string,
): Promise<void> {
  let thrown: unknown;
  try {
    await next();
  } catch (error) {
    thrown = error;
  }
  const status = thrown ? (thrown instanceof ApiError ? thrown.status : 500) : c.res.status;
  const detail = c.get("auditDetail");
  try {
    await recordAudit(c, { action, targetType, targetId, detail }, { status });
  } catch (error) {
    log.error("audit write failed", {
      action,
      target_type: targetType,
      request_id: c.get("requestId"),
      error: errorKind(error),
    });
    // A read whose row cannot be written does not hand out the data; a change has already happened,
    // so its answer stands (and this log line is the trace).
    if (c.req.method === "GET" && !thrown) {
      throw new ApiError(503, "audit_unavailable", "The audit trail could not be written; retry later.", {
        headers: { "Retry-After": "30" },
      });
    }
  }
  if (thrown) throw thrown;
}
