import { readClinicIds } from "../config/clinics";
import type { ConfigProblem } from "../config/health";
import { clinicsWithoutKey, readWebhookConfig } from "../config/webhook";
import { countUnassignedPatients } from "../db/patients";
import { coversClinic, type StaffScope } from "../db/scope";

/**
 * Tenancy problems for `GET /admin/health`, by variable name: a clinic without a webhook key of its
 * own (once per-clinic keys are in use), and directory rows from before patients
 * belonged to clinics that no clinic reads because several are configured (docs/operations.md,
 * "Patients and clinics", says what to run). An identity of some clinics reads its clinics' problems
 * only: the clinics of `scope` without a key, and not the unassigned rows (no clinic's data).
 */
export async function tenancyProblems(env: Env, scope: StaffScope): Promise<ConfigProblem[]> {
  return [...keyProblems(env, scope), ...(scope.clinics === "all" ? await unassignedPatientProblems(env) : [])];
}

/** Each allowed clinic of `scope` no per-clinic key opens, once `NOVAMED_WEBHOOK_KEYS` is in use. */
function keyProblems(env: Env, scope: StaffScope): ConfigProblem[] {
  const { settings: config } = readWebhookConfig.tryRead(env);
  if (!config) return []; // reported by configProblems
  return clinicsWithoutKey(config)
    .filter(({ clinicId }) => coversClinic(scope, clinicId))
    .map(({ clinicId, sharedKeyOnly }) => ({
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
