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
