import { Hono } from "hono";
import { z } from "zod";
import { listRejections } from "../../db/rejections";
import { validQuery } from "../list-query";
import { requestScope } from "../middleware/staff-scope";
import type { App } from "../types";

const DAY_MS = 86_400_000;

const rejectionsQuery = z.object({
  since: z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time" }).optional(),
});

/**
 * `GET /admin/rejections?since=<ISO date-time>`: webhook deliveries the edge refused since `since`
 * (default 24 h ago), per clinic (or `unknown`), reason (the answer's error code) and UTC hour, newest
 * hour first, of the identity's clinics. Counts only: no body, no key, no patient; so it is not audited (test/http/audit-every-route.test.ts).
 */
export const adminRejections = new Hono<App>();

adminRejections.get("/", validQuery(rejectionsQuery), async (c) => {
  const query = c.req.valid("query");
  const since = query.since ? new Date(query.since) : new Date(Date.now() - DAY_MS);
  const { rows, total, truncated } = await listRejections(c.env.DB, requestScope(c), since);
  return c.json({
    since: since.toISOString(),
    total,
    ...(truncated ? { truncated: true } : {}),
    rejections: rows.map((row) => ({
      clinic_id: row.clinic_id,
      reason: row.reason,
      hour: `${row.hour}:00:00.000Z`,
      count: row.count,
      last_at: row.last_at,
    })),
  });
});
