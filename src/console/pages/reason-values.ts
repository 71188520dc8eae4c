import { ConfigError } from "../../config/read";
import type { ReasonValues } from "../../notify/explanations";
import { loadClinic } from "../../tenancy/clinics";

/**
 * The settings a notification's reason names for a clinic (its effective daily caps), or none when
 * the clinic's settings cannot be read: the reason is then explained without its value.
 */
export async function reasonValuesOf(env: Env, clinicId: string): Promise<ReasonValues | undefined> {
  try {
    const clinic = await loadClinic(env, clinicId);
    return clinic ? { dailyCaps: clinic.dailyCaps } : undefined;
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}
