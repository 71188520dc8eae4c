import { readClinicIds } from "../config/clinics";
import type { ConfigProblem } from "../config/health";
import { clinicsWithoutKey, readWebhookConfig } from "../config/webhook";
import { countUnassignedPatients } from "../db/patients";

/**
 * Tenancy problems for `GET /admin/health`, by variable name: a clinic without a webhook key of its
 * own (once per-clinic keys are in use), and directory rows from before patients
 * belonged to clinics that no clinic reads because several are configured (docs/operations.md,
 * "Patients and clinics", says what to run).
 */
export async function tenancyProblems(env: Env): Promise<ConfigProblem[]> {
  return [...keyProblems(env), ...(await unassignedPatientProblems(env))];
}

/** Each allowed clinic no per-clinic key opens, once `NOVAMED_WEBHOOK_KEYS` is in use. */
function keyProblems(env: Env): ConfigProblem[] {
  const { settings: config } = readWebhookConfig.tryRead(env);
  if (!config) return []; // reported by configProblems
  return clinicsWithoutKey(config).map(({ clinicId, sharedKeyOnly }) => ({
    variable: "NOVAMED_WEBHOOK_KEYS",
    problem: `has no key for clinic ${clinicId}: ${
      sharedKeyOnly ? "only NOVAMED_WEBHOOK_SECRET opens it" : "no key opens it, so its events are refused"
    }`,
  }));
}

async function unassignedPatientProblems(env: Env): Promise<ConfigProblem[]> {
  const { settings: clinicIds } = readClinicIds.tryRead(env);
  // Unreadable clinic ids are reported by configProblems.
  if (!clinicIds || clinicIds.length <= 1) return [];
  const unassigned = await countUnassignedPatients(env.DB);
  return unassigned === 0
    ? []
    : [
        {
          variable: "NOVAMED_CLINIC_IDS",
          problem: `lists several clinics while ${unassigned} patients have no clinic; assign them (docs/operations.md, "Patients and clinics")`,
        },
      ];
}
