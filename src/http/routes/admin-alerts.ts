import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { ALERT_STATES, type AlertRow, acknowledgeAlert, listAlerts } from "../../db/alerts";
import { narrowedTo } from "../../db/scope";
import { alertChannelStates } from "../../watch/alert-delivery";
import { audited } from "../audit";
import { clinicParam } from "../clinic-query";
import { decodeCursor, encodeCursor } from "../cursor";
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
    const after = query.cursor ? decodeCursor(query.cursor, 2) : undefined;
    const rows = await listAlerts(c.env.DB, narrowedTo(requestScope(c), query.clinic_id), {
      state: query.state as AlertRow["state"] | undefined,
      rule: query.rule,
      limit: query.limit,
      after: after ? { openedAt: after[0] ?? "", alertId: after[1] ?? "" } : undefined,
    });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return c.json({
      alerts: page.map(alertView),
      next_cursor: rows.length > query.limit && last ? encodeCursor([last.opened_at, last.alert_id]) : null,
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
