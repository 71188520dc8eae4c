import { readAccessAdminEmails } from "../config/staff";
import { ALL_CLINICS, type StaffScope } from "../db/scope";
import { getStaffMember } from "../db/staff";

export type { StaffScope } from "../db/scope";

/**
 * The role of an admin actor: `ADMIN_TOKEN` (actor `token:…`) is admin of every clinic; an Access
 * identity in `ACCESS_ADMIN_EMAILS` too; any other identity has the role of its staff row, or none
 * (null: it may not act).
 */
export async function staffScopeOf(env: Env, actor: string): Promise<StaffScope | null> {
  if (actor.startsWith("token:")) return ALL_CLINICS;
  const identity = actor.toLowerCase();
  if (readAccessAdminEmails(env).has(identity)) return ALL_CLINICS;
  const member = await getStaffMember(env.DB, identity);
  return member ? { role: member.role, clinics: member.clinics } : null;
}

/**
 * A staff row as an admin of `scope` sees it, or null when it may not see it. An admin of every
 * clinic sees every row as it is. An admin of some clinics sees the rows sharing one of its clinics
 * (a row of every clinic shares them all), each row's clinic list cut to its own clinics: the ids of
 * clinics it does not serve are another tenant's data.
 */
export function staffRowSeenBy<T extends { clinics: readonly string[] | "all" }>(scope: StaffScope, row: T): T | null {
  if (scope.clinics === "all" || row.clinics === "all") return row;
  const own = scope.clinics;
  const shared = row.clinics.filter((clinicId) => own.includes(clinicId));
  return shared.length === 0 ? null : { ...row, clinics: shared };
}

/**
 * Whether an admin of `scope` may give (or take away) a staff row with `clinics`: an admin of every
 * clinic always; an admin of some clinics only for a list of its own clinics (never "all", never
 * another clinic), so it can neither widen anyone beyond itself nor change an admin of more clinics.
 */
export function mayManageStaffOf(scope: StaffScope, clinics: readonly string[] | "all"): boolean {
  if (scope.clinics === "all") return true;
  const own = scope.clinics;
  return clinics !== "all" && clinics.every((clinicId) => own.includes(clinicId));
}
