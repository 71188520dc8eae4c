import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { replayEvents } from "../../replay/replay";
import { auditActorOf, audited, setAuditDetail } from "../audit";
import { rejectInvalid } from "../errors";
import { requireJsonContentType } from "../middleware/require-json";
import { requestScope } from "../middleware/staff-scope";
import { replayRefusalError } from "../replay-refusal";
import type { App } from "../types";

/** Bulk re-drive after an outage or a schema fix: `POST /admin/events/replay` (admin auth applies). */
export const adminReplay = new Hono<App>();

const receivedTime = z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time" });

const bulkReplayBody = z
  .strictObject(
    {
      status: z.enum(["dead", "failed", "invalid"], { error: "must be dead, failed or invalid" }),
      type: z.string({ error: "must be a string" }).min(1, { error: "must not be empty" }).max(100, {
        error: "is too long",
      }),
      received_after: receivedTime,
      received_before: receivedTime,
      limit: z
        .number({ error: "must be a number" })
        .int({ error: "must be an integer" })
        .min(1, { error: "must be at least 1" })
        .max(1000, { error: "must be at most 1000" }),
    },
    { error: "is not a field of this request" },
  )
  .partial({ type: true, received_after: true, received_before: true, limit: true });

/** One page of a re-drive unless the operator asks for more (at most 1000 per call). */
const DEFAULT_LIMIT = 100;

adminReplay.post(
  "/events/replay",
  audited("event.bulk_replay", "event", { fixed: "*" }),
  requireJsonContentType(),
  zValidator("json", bulkReplayBody, rejectInvalid("invalid_body", "The request body is invalid.")),
  async (c) => {
    const body = c.req.valid("json");
    const result = await replayEvents(
      c.env,
      {
        status: body.status,
        type: body.type,
        // Stored times are UTC ISO strings, so the bounds are normalised the same way to compare.
        receivedAfter: body.received_after ? new Date(body.received_after).toISOString() : undefined,
        receivedBefore: body.received_before ? new Date(body.received_before).toISOString() : undefined,
        limit: body.limit ?? DEFAULT_LIMIT,
        scope: requestScope(c),
      },
      { actor: auditActorOf(c) },
    );
    if ("refused" in result) throw replayRefusalError(result);
    setAuditDetail(c, { replayed: result.replayed });
    return c.json(result, 202);
  },
);
