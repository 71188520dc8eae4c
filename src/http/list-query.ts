import { zValidator } from "@hono/zod-validator";
import { z } from "zod";
import { rejectInvalid } from "./errors";

/**
 * The paging parameters every admin list shares: `limit` (default 50, at most 100, as DESIGN.md
 * fixes for the events list) and an opaque `cursor` from the previous page's `next_cursor`.
 */
export const pageParams = {
  limit: z.coerce
    .number({ error: "must be a number" })
    .int({ error: "must be an integer" })
    .min(1, { error: "must be at least 1" })
    .max(100, { error: "must be at most 100" })
    .default(50),
  cursor: z.string().max(400, { error: "is too long" }).optional(),
};

/** Validates a list's query string with `schema`; a bad parameter is a 400 `invalid_query` with issues. */
export function validQuery<S extends z.ZodType>(schema: S) {
  return zValidator("query", schema, rejectInvalid("invalid_query", "The query parameters are invalid."));
}
