import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { auditedSearchText, findAnything, MAX_SEARCH_TEXT } from "../../search/find";
import { auditedSearch } from "../audit";
import { rejectInvalid } from "../errors";
import { requestScope } from "../middleware/staff-scope";
import type { App } from "../types";

const searchQuery = z.object({
  q: z
    .string({ error: "is required" })
    .trim()
    .min(1, { error: "must not be empty" })
    .max(MAX_SEARCH_TEXT, { error: "is too long" }),
});

/**
 * `GET /admin/search?q=` and `POST /admin/search` with `{"q"}` (the same search, the text kept out of
 * the URL: request logs record URLs, so a phone or email is better posted): patients by phone (any
 * common format) or email, orders by tracking number, any id by a case-insensitive prefix of at least
 * 4 characters, within the caller's clinics (src/search/find.ts). Audited as `search` (a PHI read); a
 * phone or email is recorded as its kind and digest, never as typed. Both are reads, open to viewers.
 */
export const adminSearch = new Hono<App>();

const audit = auditedSearch<App>("search", "q", "not_audited", (c, text) => auditedSearchText(c.env, text));

adminSearch.get(
  "/",
  audit,
  zValidator("query", searchQuery, rejectInvalid("invalid_query", "The query parameters are invalid.")),
  async (c) => c.json({ results: await findAnything(c.env, requestScope(c), c.req.valid("query").q) }),
);

adminSearch.post(
  "/",
  audit,
  zValidator("json", searchQuery, rejectInvalid("invalid_body", "The request body is invalid.")),
  async (c) => c.json({ results: await findAnything(c.env, requestScope(c), c.req.valid("json").q) }),
);
