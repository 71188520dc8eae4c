import { zValidator } from "@hono/zod-validator";
import { type Context, Hono } from "hono";
import { z } from "zod";
import { readClinicIds } from "../../config/clinics";
import {
  deleteStaffMember,
  getStaffMember,
  listStaff,
  STAFF_ROLES,
  type StaffMember,
  upsertStaffMember,
} from "../../db/staff";
import { mayManageStaffOf, staffRowSeenBy } from "../../tenancy/staff";
import { audited } from "../audit";
import { ApiError, rejectInvalid } from "../errors";
import { requestScope } from "../middleware/staff-scope";
import type { App } from "../types";

/**
 * `/admin/staff`: who may act, with which role, for which clinics. Admins only (`ADMIN_TOKEN`, an
 * identity of `ACCESS_ADMIN_EMAILS`, or a staff row with role admin; the staff-scope middleware
 * refuses other roles with 403). An admin of some clinics sees the staff of its clinics (each row's
 * clinics cut to its own), and gives or takes away access to its own clinics only: a row of another
 * clinic answers 404, a row reaching beyond its clinics (or "all") 403 (docs/security.md).
 */
export const adminStaff = new Hono<App>();

const notFound = () => new ApiError(404, "not_found", "No staff member has this identity.");
const beyondOwnClinics = () =>
  new ApiError(403, "forbidden", "An admin of some clinics may grant and revoke access to its own clinics only.");

/** The existing row of `identity`, checked manageable by the request's admin (404 when it may not see it). */
async function manageableRow(c: Context<App>, identity: string): Promise<StaffMember | null> {
  const scope = requestScope(c);
  const existing = await getStaffMember(c.env.DB, identity);
  if (!existing) return null;
  if (!staffRowSeenBy(scope, existing)) throw notFound();
  if (!mayManageStaffOf(scope, existing.clinics)) throw beyondOwnClinics();
  return existing;
}

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

adminStaff.get("/", async (c) => {
  const scope = requestScope(c);
  const staff = (await listStaff(c.env.DB)).flatMap((member) => staffRowSeenBy(scope, member) ?? []);
  return c.json({ staff });
});

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
    if (!mayManageStaffOf(requestScope(c), clinics)) throw beyondOwnClinics();
    const id = identity.data.toLowerCase();
    await manageableRow(c, id);
    await upsertStaffMember(c.env.DB, { identity: id, role: body.role, clinics }, new Date().toISOString());
    const saved = await getStaffMember(c.env.DB, id);
    return c.json(saved && staffRowSeenBy(requestScope(c), saved));
  },
);

adminStaff.delete("/:identity", audited("staff.delete", "staff", "identity"), async (c) => {
  const identity = c.req.param("identity").toLowerCase();
  if (!(await manageableRow(c, identity)) || !(await deleteStaffMember(c.env.DB, identity))) throw notFound();
  return c.body(null, 204);
});
