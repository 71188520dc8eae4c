import type { MiddlewareHandler } from "hono";
import { readWebhookConfig } from "../../config/webhook";
import { recordRejection, UNKNOWN_CLINIC } from "../../db/rejections";
import { errorKind, log } from "../../log";
import type { App } from "../types";

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
            await recordRejection(c.env.DB, {
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
