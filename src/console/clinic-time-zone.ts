import { readClinicTimeZone } from "../config/notifications";

/**
 * The zone console pages show times in: the clinic's (`CLINIC_TIMEZONE`, read alone so another broken
 * notification setting never takes the console down, which is when staff need it), or UTC, named on
 * every time shown, while `CLINIC_TIMEZONE` itself is malformed (`/admin/health` reports it).
 */
export function clinicTimeZone(env: Env): string {
  return readClinicTimeZone.tryRead(env).settings ?? "UTC";
}
