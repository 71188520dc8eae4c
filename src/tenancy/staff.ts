import { readAccessAdminEmails } from "../config/staff";
import { getStaffMember, type StaffRole } from "../db/staff";

/** What an identity may do, for which clinics. */
export interface StaffScope {
  role: StaffRole;
  clinics: readonly string[] | "all";
}

/**
 * The role of an admin actor: `ADMIN_TOKEN` (actor `token:…`) is admin of every clinic; an Access
 * identity in `ACCESS_ADMIN_EMAILS` too; any other identity has the role of its staff row, or none
 * (null: it may not act).
 */
export async function staffScopeOf(env: Env, actor: string): Promise<StaffScope | null> {
  if (actor.startsWith("token:")) return { role: "admin", clinics: "all" };
  const identity = actor.toLowerCase();
  if (readAccessAdminEmails(env).has(identity)) return { role: "admin", clinics: "all" };
  const member = await getStaffMember(env.DB, identity);
  return member ? { role: member.role, clinics: member.clinics } : null;
}
