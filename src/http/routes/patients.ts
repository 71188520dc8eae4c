import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { deletePatient, getPatient, type Patient, upsertPatient, upsertPatients } from "../../db/patients";
import { type ErrorIssue, toIssues } from "../../events/issues";
import { isTimeZone } from "../../time-zone";
import { audited, setAuditDetail } from "../audit";
import { parseCsvRows } from "../csv";
import { ApiError, rejectInvalid } from "../errors";
import { bodyCap } from "../middleware/body-cap";
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

/** `/admin/patients`: the patient directory (mounted behind the admin bearer token). */
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
    const valid: Patient[] = [];
    const errors: { row: number; issues: ErrorIssue[] }[] = [];
    rows.forEach((row, index) => {
      const id = patientId.safeParse(row.patient_id);
      const fields = patientFields.safeParse(row);
      if (id.success && fields.success) valid.push({ patient_id: id.data, ...fields.data });
      else {
        const issues = [
          ...(id.success ? [] : toIssues(id.error).map((issue) => ({ ...issue, path: "patient_id" }))),
          ...(fields.success ? [] : toIssues(fields.error)),
        ];
        errors.push({ row: index + 1, issues });
      }
    });
    if (valid.length > 0) await c.env.DB.batch(upsertPatients(c.env.DB, valid, now));
    setAuditDetail(c, { imported: valid.length, failed: errors.length });
    return c.json({ imported: valid.length, failed: errors.length, errors });
  },
);

patients.put(
  "/:patient_id",
  audited("patient.upsert", "patient", "patient_id"),
  zValidator("json", patientFields, invalidPatient),
  async (c) => {
    const id = patientId.safeParse(c.req.param("patient_id"));
    if (!id.success)
      throw new ApiError(400, "invalid_patient", "The patient id is invalid.", { issues: toIssues(id.error) });
    await upsertPatient(c.env.DB, { patient_id: id.data, ...c.req.valid("json") }, new Date().toISOString()).run();
    return c.json(await getPatient(c.env.DB, id.data));
  },
);

patients.get("/:patient_id", audited("patient.read", "patient", "patient_id"), async (c) => {
  const patient = await getPatient(c.env.DB, c.req.param("patient_id"));
  if (!patient) throw new ApiError(404, "not_found", "No patient has this id.");
  return c.json(patient);
});

patients.delete("/:patient_id", audited("patient.delete", "patient", "patient_id"), async (c) => {
  if (!(await deletePatient(c.env.DB, c.req.param("patient_id"))))
    throw new ApiError(404, "not_found", "No patient has this id.");
  return c.body(null, 204);
});

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
