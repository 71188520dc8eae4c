import { Hono } from "hono";
import { z } from "zod";
import { listChanges } from "../../db/changes";
import { changeBody } from "../../forwarding/changes";
import { pageParams, validQuery } from "../list-query";
import { requestScope } from "../middleware/staff-scope";
import type { App } from "../types";

const changesQuery = z.object({
  after: z
    .string()
    .regex(/^\d{1,15}$/, { error: "must be a cursor from next_cursor" })
    .optional(),
  limit: pageParams.limit,
});

/**
 * `GET /admin/changes?after=<cursor>&limit=`: the change feed for systems that poll. Changes in commit
 * order from just after `after` (none = from the start), at most `limit` (≤ 100). `next_cursor` is the
 * last change's cursor, or `after` again when there is nothing new, so a client stores it and asks
 * again: it misses nothing and sees nothing twice. Ids, statuses and times only (no patient data), so
 * it is not audited; scoped to the identity's clinics like every list.
 */
export const adminChanges = new Hono<App>();

adminChanges.get("/", validQuery(changesQuery), async (c) => {
  const query = c.req.valid("query");
  const after = Number(query.after ?? "0");
  const rows = await listChanges(c.env.DB, requestScope(c), after, query.limit);
  const last = rows.at(-1);
  return c.json({ changes: rows.map(changeBody), next_cursor: String(last ? last.sequence : after) });
});
