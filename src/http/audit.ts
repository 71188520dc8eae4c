import type { Context, Env as HonoEnv, MiddlewareHandler } from "hono";
import { type AuditOutcome, insertAuditEntry } from "../db/audit";
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
  };
}
