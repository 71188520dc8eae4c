import { zValidator } from "@hono/zod-validator";
import { type Context, Hono } from "hono";
import { z } from "zod";
import { LOCALES } from "../../channels";
import { readPatientWithConsent } from "../../consent/patient-consent";
import { maskEmail, maskPhone } from "../../console/format";
import { type DirectoryClinic, deletePatient, type Patient, upsertPatient, upsertPatients } from "../../db/patients";
import type { StaffScope } from "../../db/scope";
import { type ErrorIssue, toIssues } from "../../events/issues";
import { indexPatients } from "../../search/patient-index";
import { directoryWithin, impliedDirectory } from "../../tenancy/clinics";
import { isTimeZone } from "../../time-zone";
import { audited, setAuditClinic, setAuditDetail } from "../audit";
import { parseCsvRows } from "../csv";
import { ApiError, rejectInvalid } from "../errors";
import { bodyCap } from "../middleware/body-cap";
import { requestScope } from "../middleware/staff-scope";
import type { App } from "../types";

/** E.164: a plus, a non-zero digit, then up to 14 more digits. */
const E164 = /^\+[1-9]\d{7,14}$/;

/** One patient's contact details and consent; every field validated, messages never quote values. */
export const patientFields = z.object({
  phone: z
    .string({ error: "must be a string or null" })
    .regex(E164, { error: "must be an E.164 phone number such as +14155550123" })
    .nullable()
    .default(null),
  email: z.email({ error: "must be an email address" }).max(254, { error: "is too long" }).nullable().default(null),
  timezone: z
    .string({ error: "must be a string or null" })
    .refine(isTimeZone, { error: "must be an IANA time zone such as America/New_York" })
    .nullable()
    .default(null),
  sms_opt_in: z.boolean({ error: "must be true or false" }),
  email_opt_in: z.boolean({ error: "must be true or false" }),
  /** The language of the patient's messages; omitted or null: the clinic's `default_locale`. */
  locale: z
    .preprocess(
      (value) => (typeof value === "string" ? value.toLowerCase() : value),
      z.enum(LOCALES, { error: "must be en or es" }).nullable(),
    )
    .default(null),
});

const patientId = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(200, { error: "must be at most 200 characters" });

/** At most this many patients per import request; larger files go in several requests. */
export const IMPORT_MAX_ROWS = 1000;
/** 1,000 rows of contact details fit well within 1 MiB. */
const IMPORT_MAX_BYTES = 1024 * 1024;

const invalidPatient = rejectInvalid("invalid_patient", "The patient is invalid.");

/**
 * The clinic whose directory a request uses: `:clinic_id` (404 outside `NOVAMED_CLINIC_IDS` or the
 * identity's clinics, as an unknown one), or on the old `/admin/patients` routes the only configured
 * clinic, else the identity's only clinic (400 `clinic_required` when several are possible).
 */
function directoryOfRequest(c: Context<App>): DirectoryClinic {
  const clinicId = c.req.param("clinic_id");
  const scope = requestScope(c);
  const directory = clinicId === undefined ? impliedDirectory(c.env, scope) : directoryWithin(c.env, scope, clinicId);
  if (!directory) {
    if (clinicId !== undefined) throw new ApiError(404, "not_found", "No clinic has this id.");
    throw new ApiError(
      400,
      "clinic_required",
      "Several clinics are possible: use /admin/clinics/:clinic_id/patients/:patient_id.",
    );
  }
  setAuditClinic(c, directory.clinicId);
  return directory;
}

/** PUT, GET and DELETE of one patient, in the directory {@link directoryOfRequest} picks. */
function patientRoutes(): Hono<App> {
  const routes = new Hono<App>();
  routes.put(
    "/:patient_id",
    audited("patient.upsert", "patient", "patient_id"),
    async (c, next) => {
      directoryOfRequest(c);
      await next();
    },
    zValidator("json", patientFields, invalidPatient),
    async (c) => {
      const directory = directoryOfRequest(c);
      const id = patientId.safeParse(c.req.param("patient_id"));
      if (!id.success)
        throw new ApiError(400, "invalid_patient", "The patient id is invalid.", { issues: toIssues(id.error) });
      const patient = { patient_id: id.data, ...c.req.valid("json") };
      await c.env.DB.batch([
        ...upsertPatient(c.env.DB, directory, patient, new Date().toISOString()),
        ...(await indexPatients(c.env, [{ clinic_id: directory.clinicId, ...patient }])),
      ]);
      return c.json(await readPatientWithConsent(c.env, directory, id.data));
    },
  );
  routes.get("/:patient_id", audited("patient.read", "patient", "patient_id"), async (c) => {
    // Consent as it takes effect: false while the patient is opted out, with the reason.
    const patient = await readPatientWithConsent(c.env, directoryOfRequest(c), c.req.param("patient_id"));
    if (!patient) throw new ApiError(404, "not_found", "No patient has this id.");
    // A viewer sees contact details masked; revealing them is for operators.
    if (c.get("staffScope")?.role === "viewer")
      return c.json({
        ...patient,
        phone: patient.phone && maskPhone(patient.phone),
        email: patient.email && maskEmail(patient.email),
      });
    return c.json(patient);
  });
  routes.delete("/:patient_id", audited("patient.delete", "patient", "patient_id"), async (c) => {
    if (!(await deletePatient(c.env.DB, directoryOfRequest(c), c.req.param("patient_id"))))
      throw new ApiError(404, "not_found", "No patient has this id.");
    return c.body(null, 204);
  });
  return routes;
}

/** `/admin/clinics/:clinic_id/patients`: one clinic's patient directory. */
export const clinicPatients = patientRoutes();

/** `/admin/patients`: the import (rows name their clinic) and, with one clinic, the old per-patient routes. */
export const patients = new Hono<App>();

patients.post(
  "/import",
  audited("patient.import", "patient", { fixed: "*" }),
  bodyCap(IMPORT_MAX_BYTES, "An import body is at most 1 MiB; split the file."),
  async (c) => {
    const contentType = c.req.header("content-type") ?? "";
    const rows = contentType.startsWith("text/csv") ? parseCsvRows(await c.req.text()) : await readJsonRows(c.req.raw);
    if (rows.length > IMPORT_MAX_ROWS) {
      throw new ApiError(
        413,
        "payload_too_large",
        `An import holds at most ${IMPORT_MAX_ROWS} patients; split the file.`,
      );
    }
    const now = new Date().toISOString();
    const valid: { clinic: DirectoryClinic; patient: Patient }[] = [];
    const errors: { row: number; issues: ErrorIssue[] }[] = [];
    const scope = requestScope(c);
    rows.forEach((row, index) => {
      const id = patientId.safeParse(row.patient_id);
      const fields = patientFields.safeParse(row);
      const clinic = importClinicOf(c.env, scope, row.clinic_id);
      if (id.success && fields.success && "clinicId" in clinic)
        valid.push({ clinic, patient: { patient_id: id.data, ...fields.data } });
      else {
        const issues = [
          ...("issue" in clinic ? [{ path: "clinic_id", message: clinic.issue }] : []),
          ...(id.success ? [] : toIssues(id.error).map((issue) => ({ ...issue, path: "patient_id" }))),
          ...(fields.success ? [] : toIssues(fields.error)),
        ];
        errors.push({ row: index + 1, issues });
      }
    });
    if (valid.length > 0) {
      const indexed = valid.map(({ clinic, patient }) => ({ clinic_id: clinic.clinicId, ...patient }));
      await c.env.DB.batch([...upsertPatients(c.env.DB, valid, now), ...(await indexPatients(c.env, indexed))]);
    }
    setAuditDetail(c, { imported: valid.length, failed: errors.length });
    return c.json({ imported: valid.length, failed: errors.length, errors });
  },
);

patients.route("/", patientRoutes());

/**
 * The clinic of one import row: its `clinic_id` (an allowed one of the identity's clinics; any other
 * reads as unknown), or the clinic a request without one means ({@link impliedDirectory}).
 */
function importClinicOf(env: Env, scope: StaffScope, value: unknown): DirectoryClinic | { issue: string } {
  if (value === undefined || value === null || value === "") {
    return impliedDirectory(env, scope) ?? { issue: "is required when several clinics are configured" };
  }
  const directory = typeof value === "string" ? directoryWithin(env, scope, value) : null;
  return directory ?? { issue: "is not a clinic this receiver serves" };
}

/** A JSON import body: an array of patients, or `{"patients": [...]}`. */
async function readJsonRows(request: Request): Promise<Record<string, unknown>[]> {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    throw new ApiError(400, "invalid_json", "The body is not valid JSON.");
  }
  const rows = Array.isArray(body) ? body : (body as { patients?: unknown })?.patients;
  if (!Array.isArray(rows))
    throw new ApiError(400, "invalid_import", 'Send a JSON array of patients, {"patients": [...]}, or text/csv.');
  return rows.map((row) => (row && typeof row === "object" ? (row as Record<string, unknown>) : {}));
}
