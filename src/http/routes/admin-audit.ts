import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { listAuditRows } from "../../db/audit";
import { narrowedTo } from "../../db/scope";
import { auditedSearch } from "../audit";
import { clinicParam } from "../clinic-query";
import { encodePosition, readPosition, requireCursor } from "../cursor";
import { rejectInvalid } from "../errors";
import { pageParams } from "../list-query";
import { requestScope } from "../middleware/staff-scope";
import type { App } from "../types";

const text = (max: number) => z.string().min(1, { error: "must not be empty" }).max(max, { error: "is too long" });

const auditQuery = z.object({
  actor: text(320).optional(),
  action: text(100).optional(),
  target_type: text(50).optional(),
  target_id: text(200).optional(),
  ...pageParams,
  ...clinicParam,
});

const positionOf = (cursor: string) => requireCursor(readPosition(cursor, "integer"));

/**
 * `GET /admin/audit`: the audit trail, newest first, by actor, action and/or target (as the console's
 * audit page filters), a page at a time. Its
 * rows name patients by id, so reading it is audited too (`audit.read`; a `target_id` filter is
 * recorded as the search text).
 */
export const adminAudit = new Hono<App>();

adminAudit.get(
  "/",
  auditedSearch("audit.read", "target_id", { targetType: "audit" }),
  zValidator("query", auditQuery, rejectInvalid("invalid_query", "The query parameters are invalid.")),
  async (c) => {
    const query = c.req.valid("query");
    const { rows, next } = await listAuditRows(c.env.DB, narrowedTo(requestScope(c), query.clinic_id), {
      actor: query.actor,
      action: query.action,
      targetType: query.target_type,
      targetId: query.target_id,
      limit: query.limit,
      after: query.cursor ? positionOf(query.cursor) : undefined,
    });
    return c.json({ entries: rows, next_cursor: next && encodePosition(next) });
  },
);
