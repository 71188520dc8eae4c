import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";
import { ADMIN_TOKEN, CLINIC_ID, OTHER_CLINIC_ID, uniqueId } from "./events";
import { patientRecord, providerEnv } from "./notifications";

/** Clinic A and clinic B of the two-clinic tests (the suite's two allowed ids). */
export const CLINIC_A = CLINIC_ID;
export const CLINIC_B = OTHER_CLINIC_ID;

/** A deployment serving clinics A and B, with Twilio and Resend connected (`overrides` on top). */
export function twoClinicEnv(overrides: Record<string, string> = {}): Env {
  return providerEnv({ NOVAMED_CLINIC_IDS: `${CLINIC_A},${CLINIC_B}`, ...overrides });
}

/** Calls the admin API of a Worker running with `workerEnv` (the admin token unless `token` is given). */
export function adminFetchWith(
  workerEnv: Env,
  path: string,
  init: RequestInit = {},
  token: string = ADMIN_TOKEN,
): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${token}`);
  if (init.body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");
  return fetchWith(workerEnv, new Request(`https://receiver.test/admin${path}`, { ...init, headers }));
}

/** Runs one request through the Worker with `workerEnv`, waiting for its background work. */
export async function fetchWith(workerEnv: Env, request: Request): Promise<Response> {
  const context = createExecutionContext();
  const response = await worker.fetch(request, workerEnv, context);
  await waitOnExecutionContext(context);
  return response;
}

/** Sets a clinic's profile through `PUT /admin/clinics/:clinic_id`; throws unless it is accepted. */
export async function putClinicProfile(workerEnv: Env, clinicId: string, profile: Record<string, unknown>) {
  const response = await adminFetchWith(workerEnv, `/clinics/${clinicId}`, {
    method: "PUT",
    body: JSON.stringify(profile),
  });
  if (response.status !== 200) throw new Error(`profile not set: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Creates a patient in one clinic's directory (`PUT /admin/clinics/:clinic_id/patients/:id`); returns its id. */
export async function createClinicPatient(
  workerEnv: Env,
  clinicId: string,
  fields: Record<string, unknown> = {},
  patientId: string = uniqueId("pat"),
): Promise<string> {
  const response = await adminFetchWith(workerEnv, `/clinics/${clinicId}/patients/${patientId}`, {
    method: "PUT",
    body: JSON.stringify(patientRecord(patientId, fields)),
  });
  if (response.status !== 200) throw new Error(`patient not created: ${response.status} ${await response.text()}`);
  return patientId;
}

/** Opens an alert of `clinicId` about `targetId` (an order unless told) straight in D1; returns its id. */
export async function openClinicAlert(
  clinicId: string,
  targetId: string,
  { rule = "order:shipped", targetType = "order" }: { rule?: string; targetType?: string } = {},
): Promise<string> {
  const alertId = uniqueId("alt");
  await env.DB.prepare(
    `INSERT INTO alerts (alert_id, rule, target_type, target_id, clinic_id, state, since, opened_at)
     VALUES (?1, ?4, ?5, ?2, ?3, 'open', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`,
  )
    .bind(alertId, targetId, clinicId, rule, targetType)
    .run();
  return alertId;
}
