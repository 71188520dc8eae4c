import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { ALERT_STATES, type AlertRow, acknowledgeAlert, listAlerts } from "../../db/alerts";
import { getInboundReply } from "../../db/inbound-replies";
import { narrowedTo } from "../../db/scope";
import { alertChannelStates } from "../../watch/alert-delivery";
import { audited, setAuditClinic } from "../audit";
import { clinicParam } from "../clinic-query";
import { encodePosition, readPosition, requireCursor } from "../cursor";
import { ApiError, rejectInvalid } from "../errors";
import { pageParams } from "../list-query";
import { requestScope } from "../middleware/staff-scope";
import type { App } from "../types";

/** `/admin/alerts`: the lifecycle watch's alerts (docs/watch.md), listed and acknowledged. */
export const adminAlerts = new Hono<App>();

const listQuery = z.object({
  state: z.enum(ALERT_STATES as [string, ...string[]], { error: "must be open or resolved" }).optional(),
  rule: z.string().max(100, { error: "is too long" }).optional(),
  ...pageParams,
  ...clinicParam,
});

/** An alert as the API shows it (`since`: when the target entered the watched state, where its age counts from). */
export function alertView(row: AlertRow) {
  return {
    alert_id: row.alert_id,
    rule: row.rule,
    target_type: row.target_type,
    target_id: row.target_id,
    clinic_id: row.clinic_id,
    state: row.state,
    since: row.since,
    opened_at: row.opened_at,
    resolved_at: row.resolved_at,
    acknowledged_by: row.acknowledged_by,
    acknowledged_at: row.acknowledged_at,
    last_notified_at: row.last_notified_at,
  };
}

adminAlerts.get(
  "/",
  zValidator("query", listQuery, rejectInvalid("invalid_query", "The query parameters are invalid.")),
  async (c) => {
    const query = c.req.valid("query");
    const { rows, next } = await listAlerts(c.env.DB, narrowedTo(requestScope(c), query.clinic_id), {
      state: query.state as AlertRow["state"] | undefined,
      rule: query.rule,
      limit: query.limit,
      after: query.cursor ? requireCursor(readPosition(query.cursor)) : undefined,
    });
    return c.json({
      alerts: rows.map(alertView),
      next_cursor: next && encodePosition(next),
      // Whether anyone is told: a channel that is wanted but cannot send says so here, not silently.
      channels: alertChannelStates(c.env),
    });
  },
);

// The actor is the admin identity (an Access email, or the token's actor name).
adminAlerts.post("/:alert_id/ack", audited("alert.ack", "alert", "alert_id"), async (c) => {
  const alert = await acknowledgeAlert(
    c.env.DB,
    requestScope(c),
    c.req.param("alert_id"),
    c.get("actor") ?? "unknown",
    new Date(),
  );
  if (!alert) throw new ApiError(404, "not_found", "No alert has this id.");
  return c.json(alertView(alert));
});

/**
 * `/admin/inbound-replies/:reply_id`: what a patient wrote back (the `patient_replied` alert's target),
 * for operators only, audited; the alert itself never carries the text or the phone.
 */
export const adminInboundReplies = new Hono<App>();

adminInboundReplies.get("/:reply_id", audited("inbound_reply.read", "inbound_reply", "reply_id"), async (c) => {
  const reply = await getInboundReply(c.env.DB, requestScope(c), c.req.param("reply_id"));
  if (!reply) throw new ApiError(404, "not_found", "No inbound reply has this id.");
  if (reply.clinic_id) setAuditClinic(c, reply.clinic_id);
  return c.json(reply);
});
