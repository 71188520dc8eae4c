import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { readClinicIds } from "../../config/clinics";
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
import { audited, setAuditClinic } from "../audit";
import { ApiError, rejectInvalid } from "../errors";
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
