import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { readClinicIds } from "../../config/clinics";
import { deleteStaffMember, getStaffMember, listStaff, STAFF_ROLES, upsertStaffMember } from "../../db/staff";
import { staffScopeOf } from "../../tenancy/staff";
import { audited } from "../audit";
import { ApiError, rejectInvalid } from "../errors";
import type { App } from "../types";

/**
 * `/admin/staff`: who may act, with which role, for which clinics. Admins only (`ADMIN_TOKEN`, an
 * identity of `ACCESS_ADMIN_EMAILS`, or a staff row with role admin); anyone else gets 403.
 */
export const adminStaff = new Hono<App>();

adminStaff.use(async function requireAdmin(c, next) {
  const scope = await staffScopeOf(c.env, c.get("actor") ?? "");
  if (scope?.role !== "admin" || scope.clinics !== "all")
    throw new ApiError(403, "forbidden", "Only an admin of every clinic may manage staff.");
  await next();
});

const staffBody = z.strictObject(
  {
    role: z.enum(STAFF_ROLES, { error: `must be one of ${STAFF_ROLES.join(", ")}` }),
    clinics: z.union([z.literal("all"), z.array(z.guid({ error: "must be a clinic UUID" }))], {
      error: 'must be "all" or a list of clinic ids',
    }),
  },
  { error: "is not a staff field" },
);

/** An Access email (any case) or `service:<client id>`; stored lower-case. */
const identityParam = z
  .string()
  .min(3)
  .max(254)
  .regex(/^(service:[A-Za-z0-9._-]+|[^\s@]+@[^\s@]+)$/, { error: "must be an email address or service:<client id>" });

adminStaff.get("/", async (c) => c.json({ staff: await listStaff(c.env.DB) }));

adminStaff.put(
  "/:identity",
  audited("staff.upsert", "staff", "identity"),
  zValidator("json", staffBody, rejectInvalid("invalid_staff", "The staff member is invalid.")),
  async (c) => {
    const identity = identityParam.safeParse(c.req.param("identity"));
    if (!identity.success) throw new ApiError(400, "invalid_staff", "The identity is invalid.");
    const body = c.req.valid("json");
    const allowed = readClinicIds(c.env);
    const clinics = body.clinics === "all" ? "all" : [...new Set(body.clinics.map((id) => id.toLowerCase()))];
    if (clinics !== "all" && clinics.some((id) => !allowed.includes(id)))
      throw new ApiError(400, "invalid_staff", "The staff member is invalid.", {
        issues: [{ path: "clinics", message: "names a clinic that is not in NOVAMED_CLINIC_IDS" }],
      });
    const id = identity.data.toLowerCase();
    await upsertStaffMember(c.env.DB, { identity: id, role: body.role, clinics }, new Date().toISOString());
    return c.json(await getStaffMember(c.env.DB, id));
  },
);

adminStaff.delete("/:identity", audited("staff.delete", "staff", "identity"), async (c) => {
  if (!(await deleteStaffMember(c.env.DB, c.req.param("identity").toLowerCase())))
    throw new ApiError(404, "not_found", "No staff member has this identity.");
  return c.body(null, 204);
});
