import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { REPLAYABLE_NOTIFICATION_STATUSES, reopenNotifications } from "../../db/notification-outbox";
import { notificationWithHistory } from "../../db/notification-views";
import { log } from "../../log";
import { enqueueSendJobs } from "../../notify/outbox";
import { reasonFields } from "../../notify/reasons";
import { audited, setAuditDetail } from "../audit";
import { ApiError, rejectInvalid } from "../errors";
import { requestScope } from "../middleware/staff-scope";
import type { App } from "../types";

/** `/admin/notifications`: release held or failed notifications, and what one notification told the patient. */
export const adminNotifications = new Hono<App>();

const replayBody = z.object({
  status: z.enum(REPLAYABLE_NOTIFICATION_STATUSES, { error: "must be held or failed" }),
  limit: z
    .number({ error: "must be a number" })
    .int({ error: "must be an integer" })
    .min(1, { error: "must be at least 1" })
    .max(1000, { error: "must be at most 1000" })
    .default(100),
});

/**
 * Puts up to `limit` notifications of `status` back to `pending` and enqueues their send jobs; the
 * sender decides each one afresh (settings, consent, quiet hours, whether the entity moved on). A job
 * whose enqueue fails stays `pending` for the sweep, so the answer counts every reopened row.
 */
adminNotifications.post(
  "/replay",
  audited("notification.replay", "notification", { fixed: "*" }),
  zValidator("json", replayBody, rejectInvalid("invalid_body", "The request body is invalid.")),
  async (c) => {
    const { status, limit } = c.req.valid("json");
    const jobs = await reopenNotifications(c.env.DB, requestScope(c), status, limit, new Date().toISOString());
    const enqueued = await enqueueSendJobs(c.env, jobs);
    log.info("notifications replayed", { request_id: c.get("requestId"), status, replayed: jobs.length, enqueued });
    setAuditDetail(c, { replayed: jobs.length, enqueued });
    return c.json({ replayed: jobs.length }, 202);
  },
);

/** The rendered message as stored (`{subject?, text, headers?}`: an email's headers), or null once retention purged it. */
function renderedOf(
  rendered: string | null,
): { subject?: string; text: string; headers?: Record<string, string> } | null {
  if (!rendered) return null;
  const parsed = JSON.parse(rendered) as { subject?: string; text: string; headers?: Record<string, string> };
  return {
    ...(parsed.subject === undefined ? {} : { subject: parsed.subject }),
    text: parsed.text,
    ...(parsed.headers === undefined ? {} : { headers: parsed.headers }),
  };
}

/**
 * What did we tell the patient? Channel, kind, every status with its time, the provider's ids, the
 * error, and the message as rendered (until the retention job purges it). Contact details are not
 * stored here, so none are shown; the rendered text is returned to staff, never logged.
 */
adminNotifications.get(
  "/:notification_id",
  audited("notification.read", "notification", "notification_id"),
  async (c) => {
    const found = await notificationWithHistory(c.env.DB, requestScope(c), c.req.param("notification_id"));
    if (!found) throw new ApiError(404, "not_found", "No notification has this id.");
    const { row, history } = found;
    return c.json({
      notification_id: row.notification_id,
      event_id: row.event_id,
      channel: row.channel,
      kind: row.kind,
      patient_id: row.patient_id,
      entity_id: row.entity_id,
      status: row.status,
      attempts: row.attempts,
      provider: row.provider,
      provider_message_id: row.provider_message_id,
      error: row.error,
      ...reasonFields(row),
      locale: row.locale,
      scheduled_for: row.scheduled_for,
      sent_at: row.sent_at,
      created_at: row.created_at,
      updated_at: row.updated_at,
      history,
      rendered: renderedOf(row.rendered),
    });
  },
);
