import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { readClinicIds } from "../../config/clinics";
import { type DeliveryStatus, listDeliveries } from "../../db/deliveries";
import {
  type Destination,
  deleteDestination,
  getDestination,
  insertDestination,
  listDestinations,
  rotateDestinationSecret,
  updateDestination,
} from "../../db/destinations";
import { ALL_CLINICS, coversClinic } from "../../db/scope";
import {
  DESTINATION_ID,
  destinationInput,
  destinationView,
  newSigningSecret,
  PREVIOUS_SECRET_GRACE_MS,
} from "../../forwarding/destinations";
import { pingDestination } from "../../forwarding/ping";
import { replayDeliveries } from "../../forwarding/replay";
import { audited, setAuditClinic } from "../audit";
import { ApiError, rejectInvalid } from "../errors";
import { pageParams, validQuery } from "../list-query";
import { requestScope } from "../middleware/staff-scope";
import type { App } from "../types";

/**
 * `/admin/destinations`: where each clinic's own systems hear of changes (issue 25). Admins only
 * (the staff-scope middleware), filtered to the identity's clinics like every admin route: another
 * clinic's destination answers 404. Every request is audited. A secret is answered twice at most: by
 * the PUT that creates the destination and by each rotation.
 */
export const adminDestinations = new Hono<App>();

const invalidDestination = rejectInvalid("invalid_destination", "The destination is invalid.");
const notFound = () => new ApiError(404, "not_found", "No destination has this id.");

function destinationId(raw: string): string {
  if (!DESTINATION_ID.test(raw))
    throw new ApiError(400, "invalid_destination", "The destination is invalid.", {
      issues: [{ path: "destination_id", message: "must be 1 to 64 letters, digits, _ or -" }],
    });
  return raw;
}

/** The destination `id` when the request's identity may see it; 404 otherwise. */
async function destinationInScope(c: Parameters<typeof requestScope>[0], id: string): Promise<Destination> {
  const destination = await getDestination(c.env.DB, requestScope(c), id);
  if (!destination) throw notFound();
  setAuditClinic(c, destination.clinic_id);
  return destination;
}

adminDestinations.get("/", audited("destination.list", "destination", { fixed: "*" }), async (c) => {
  const now = new Date();
  const destinations = await listDestinations(c.env.DB, requestScope(c));
  return c.json({ destinations: destinations.map((destination) => destinationView(destination, now)) });
});

adminDestinations.get("/:destination_id", audited("destination.read", "destination", "destination_id"), async (c) => {
  const destination = await destinationInScope(c, c.req.param("destination_id"));
  return c.json(destinationView(destination, new Date()));
});

adminDestinations.put(
  "/:destination_id",
  audited("destination.upsert", "destination", "destination_id"),
  zValidator("json", destinationInput, invalidDestination),
  async (c) => {
    const id = destinationId(c.req.param("destination_id"));
    const settings = c.req.valid("json");
    // A clinic outside the allow-list or the identity's clinics answers as an unknown one would.
    if (!readClinicIds(c.env).includes(settings.clinic_id) || !coversClinic(requestScope(c), settings.clinic_id))
      throw new ApiError(404, "not_found", "No clinic has this id.");
    setAuditClinic(c, settings.clinic_id);
    const now = new Date();
    const existing = await getDestination(c.env.DB, ALL_CLINICS, id);
    if (existing) {
      if (!coversClinic(requestScope(c), existing.clinic_id)) throw notFound();
      if (existing.clinic_id !== settings.clinic_id)
        throw new ApiError(400, "invalid_destination", "The destination is invalid.", {
          issues: [{ path: "clinic_id", message: "cannot change; delete the destination and create it again" }],
        });
      await updateDestination(c.env.DB, id, settings, now.toISOString());
      return c.json(destinationView(await destinationInScope(c, id), now));
    }
    const secret = newSigningSecret();
    if (!(await insertDestination(c.env.DB, id, settings, secret, now.toISOString())))
      throw new ApiError(409, "conflict", "The destination was created by another request; send the PUT again.");
    // The one time this secret is answered: the clinic stores it to verify every delivery.
    return c.json({ ...destinationView(await destinationInScope(c, id), now), secret }, 201);
  },
);

adminDestinations.delete(
  "/:destination_id",
  audited("destination.delete", "destination", "destination_id"),
  async (c) => {
    const destination = await destinationInScope(c, c.req.param("destination_id"));
    await deleteDestination(c.env.DB, destination.destination_id);
    return c.body(null, 204);
  },
);

adminDestinations.post(
  "/:destination_id/rotate-secret",
  audited("destination.rotate_secret", "destination", "destination_id"),
  async (c) => {
    const destination = await destinationInScope(c, c.req.param("destination_id"));
    const now = new Date();
    const secret = newSigningSecret();
    const previousUntil = new Date(now.getTime() + PREVIOUS_SECRET_GRACE_MS).toISOString();
    await rotateDestinationSecret(c.env.DB, destination.destination_id, secret, previousUntil, now.toISOString());
    return c.json({ ...destinationView(await destinationInScope(c, destination.destination_id), now), secret });
  },
);

adminDestinations.post(
  "/:destination_id/test",
  audited("destination.test", "destination", "destination_id"),
  async (c) => {
    const destination = await destinationInScope(c, c.req.param("destination_id"));
    return c.json(await pingDestination(destination, new Date()));
  },
);

const deliveriesQuery = z.object({
  status: z.enum(["pending", "delivered", "failed"], { error: "must be pending, delivered or failed" }).optional(),
  after: z
    .string()
    .regex(/^\d{1,15}$/, { error: "must be a cursor from next_cursor" })
    .optional(),
  limit: pageParams.limit,
});

/**
 * `GET /admin/destinations/:id/deliveries?status=&after=&limit=`: the destination's deliveries in
 * change order, each with its attempts (time, HTTP status, latency, error class, the first 256 bytes
 * of the answer). `next_cursor` as in the change feed.
 */
adminDestinations.get(
  "/:destination_id/deliveries",
  audited("destination.deliveries", "destination", "destination_id"),
  validQuery(deliveriesQuery),
  async (c) => {
    const destination = await destinationInScope(c, c.req.param("destination_id"));
    const query = c.req.valid("query");
    const after = Number(query.after ?? "0");
    const { deliveries, attempts } = await listDeliveries(c.env.DB, destination.destination_id, {
      status: query.status as DeliveryStatus | undefined,
      after,
      limit: query.limit,
    });
    const last = deliveries.at(-1);
    return c.json({
      deliveries: deliveries.map((row) => ({
        delivery_id: row.delivery_id,
        change_id: row.change_id,
        sequence: row.change_sequence,
        status: row.status,
        attempts: attempts
          .filter((attempt) => attempt.delivery_id === row.delivery_id)
          .map(({ delivery_id: _, ...attempt }) => attempt),
        error: row.error,
        last_http_status: row.last_http_status,
        next_attempt_at: row.status === "pending" ? row.next_attempt_at : null,
        created_at: row.created_at,
        delivered_at: row.delivered_at,
      })),
      next_cursor: String(last ? last.change_sequence : after),
    });
  },
);

const replayBody = z.strictObject(
  {
    destination_id: z.string({ error: "must be a destination id" }).regex(DESTINATION_ID, {
      error: "must be a destination id",
    }),
    status: z.enum(["failed", "delivered"], { error: "must be failed or delivered" }).default("failed"),
    occurred_after: z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time" }).optional(),
    occurred_before: z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time" }).optional(),
    limit: z.number().int().min(1).max(1000, { error: "must be at most 1000" }).default(100),
  },
  { error: "is not a replay field" },
);

/**
 * `POST /admin/deliveries/replay`: a destination's failed (or delivered) deliveries, optionally of
 * changes in a time range, at most `limit` (≤ 1000), back to pending and enqueued at once.
 * Idempotent in effect: the endpoint dedupes by `webhook-id`, which a replay keeps.
 */
export const adminDeliveries = new Hono<App>();

const invalidReplay = rejectInvalid("invalid_body", "The replay request is invalid.");
const isoOrNone = (at: string | undefined) => (at ? new Date(at).toISOString() : undefined);

adminDeliveries.post(
  "/replay",
  audited("deliveries.replay", "destination", { fixed: "*" }),
  zValidator("json", replayBody, invalidReplay),
  async (c) => {
    const { destination_id, status, occurred_after, occurred_before, limit } = c.req.valid("json");
    const { destination_id: id } = await destinationInScope(c, destination_id);
    const range = { status, from: isoOrNone(occurred_after), to: isoOrNone(occurred_before), limit };
    return c.json(await replayDeliveries(c.env, id, range, new Date()), 202);
  },
);
