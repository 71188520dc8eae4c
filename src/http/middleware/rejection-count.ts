import type { MiddlewareHandler } from "hono";
import { readWebhookConfig } from "../../config/webhook";
import { type Rejection, recordRejections, UNKNOWN_CLINIC } from "../../db/rejections";
import { errorKind, log } from "../../log";
import type { App } from "../types";

/**
 * Counts waiting to be written, per D1 binding, and the one write in flight: refused requests that
 * arrive while a write runs are added to the next one, so a flood of unauthenticated requests (or the
 * limiter's 429s) costs at most one D1 batch at a time per isolate, not one write per request.
 */
const pending = new WeakMap<
  D1Database,
  { counts: Map<string, Rejection & { count: number }>; flushing: Promise<void> | null }
>();

function enqueueCount(db: D1Database, rejection: Rejection): Promise<void> {
  const state = pending.get(db) ?? { counts: new Map(), flushing: null };
  pending.set(db, state);
  const key = `${rejection.clinicId} ${rejection.reason} ${rejection.at.toISOString().slice(0, 16)}`;
  const counted = state.counts.get(key);
  state.counts.set(
    key,
    counted ? { ...counted, at: rejection.at, count: counted.count + 1 } : { ...rejection, count: 1 },
  );
  state.flushing ??= (async () => {
    try {
      while (state.counts.size > 0) {
        const batch = [...state.counts.values()];
        state.counts.clear();
        await recordRejections(db, batch);
      }
    } finally {
      state.flushing = null;
    }
  })();
  return state.flushing;
}

/** An error code as the contract writes them; anything else is not stored. */
const CODE = /^[a-z_]{1,40}$/;

/**
 * First on `POST /webhooks/novamed`: once the answer is built, a refused request (any status but 200)
 * is counted by clinic, reason (the answer's `error.code`) and minute, in `waitUntil`, so the count
 * never delays the answer, and a failing count (D1 down, no clinic list) is logged and the answer
 * stands. The accepted path returns before anything here touches D1. Nothing of the body or key is
 * kept: the clinic is the per-clinic key's or a served clinic named by a valid envelope, else `unknown`.
 */
export function rejectionCount(): MiddlewareHandler<App> {
  return async function rejectionCount(c, next) {
    await next();
    if (c.res.status === 200) return;
    try {
      const response = c.res.clone();
      const at = new Date();
      const clinicId = c.get("keyClinicId");
      const envelopeClinic = c.get("envelopeClinicId");
      c.executionCtx.waitUntil(
        (async () => {
          try {
            const body = (await response.json()) as { error?: { code?: unknown } };
            const code = body.error?.code;
            const reason = typeof code === "string" && CODE.test(code) ? code : `http_${response.status}`;
            const served =
              envelopeClinic !== undefined &&
              (readWebhookConfig.tryRead(c.env).settings?.clinicIds.has(envelopeClinic) ?? false);
            await enqueueCount(c.env.DB, {
              clinicId: clinicId ?? (served ? envelopeClinic : UNKNOWN_CLINIC),
              reason,
              at,
            });
          } catch (error) {
            log.warn("rejection not counted", { request_id: c.get("requestId"), error: errorKind(error) });
          }
        })(),
      );
    } catch (error) {
      // No execution context (or a body that cannot be cloned): the answer matters, the count does not.
      log.warn("rejection not counted", { request_id: c.get("requestId"), error: errorKind(error) });
    }
  };
}
