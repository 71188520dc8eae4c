import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { REPLAYABLE_NOTIFICATION_STATUSES, reopenNotifications } from "../../db/notifications";
import { log } from "../../log";
import { enqueueSendJobs } from "../../notify/outbox";
import { rejectInvalid } from "../errors";
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
  zValidator("json", replayBody, rejectInvalid("invalid_body", "The request body is invalid.")),
  async (c) => {
    const { status, limit } = c.req.valid("json");
    const jobs = await reopenNotifications(c.env.DB, status, limit, new Date().toISOString());
    const enqueued = await enqueueSendJobs(c.env, jobs);
    log.info("notifications replayed", { request_id: c.get("requestId"), status, replayed: jobs.length, enqueued });
    return c.json({ replayed: jobs.length }, 202);
  },
);
