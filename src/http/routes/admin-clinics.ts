import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { upsertClinicProfile } from "../../db/clinics";
import { coversClinic } from "../../db/scope";
import { clinicView } from "../../tenancy/clinic-settings";
import { loadClinic, loadClinics } from "../../tenancy/clinics";
import { clinicProfileInput, profileFieldsOf } from "../../tenancy/profile-input";
import { audited, setAuditClinic } from "../audit";
import { ApiError, rejectInvalid } from "../errors";
import type { App } from "../types";

/**
 * `/admin/clinics`: each allowed clinic's profile and effective settings (with where each came from).
 * Only ids in `NOVAMED_CLINIC_IDS` have one; any other id answers 404, as an unknown one would.
 */
export const adminClinics = new Hono<App>();

const invalidProfile = rejectInvalid("invalid_clinic_profile", "The clinic profile is invalid.");

const notFound = () => new ApiError(404, "not_found", "No clinic has this id.");

adminClinics.get("/", async (c) => {
  const scope = c.get("staffScope");
  const clinics = (await loadClinics(c.env)).filter((clinic) => coversClinic(scope, clinic.clinicId));
  return c.json({ clinics: clinics.map(clinicView) });
});

adminClinics.get("/:clinic_id", async (c) => {
  const clinic = await loadClinic(c.env, c.req.param("clinic_id"));
  if (!clinic) throw notFound();
  return c.json(clinicView(clinic));
});

adminClinics.put(
  "/:clinic_id",
  audited("clinic.update", "clinic", "clinic_id"),
  async (c, next) => {
    // The allow-list first: a clinic outside it answers 404 whatever the body says.
    const clinicId = c.req.param("clinic_id").toLowerCase();
    if (!(await loadClinic(c.env, clinicId))) throw notFound();
    setAuditClinic(c, clinicId);
    await next();
  },
  zValidator("json", clinicProfileInput, invalidProfile),
  async (c) => {
    const clinicId = c.req.param("clinic_id").toLowerCase();
    await upsertClinicProfile(c.env.DB, clinicId, profileFieldsOf(c.req.valid("json")), new Date().toISOString()).run();
    const clinic = await loadClinic(c.env, clinicId);
    if (!clinic) throw notFound();
    return c.json(clinicView(clinic));
  },
);
