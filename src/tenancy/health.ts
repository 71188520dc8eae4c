import { readClinicIds } from "../config/clinics";
import type { ConfigProblem } from "../config/health";
import { ConfigError } from "../config/read";
import { countUnassignedPatients } from "../db/patients";

/**
 * Tenancy problems for `GET /admin/health`, by variable name: directory rows from before patients
 * belonged to clinics that no clinic reads because several are configured (docs/operations.md,
 * "Patients and clinics", says what to run).
 */
export async function tenancyProblems(env: Env): Promise<ConfigProblem[]> {
  let clinicCount: number;
  try {
    clinicCount = readClinicIds(env).length;
  } catch (error) {
    if (error instanceof ConfigError) return []; // reported by configProblems
    throw error;
  }
  if (clinicCount <= 1) return [];
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
