/** Typed SQL for staff rows (migration 0048): identity, role, clinics. */

export const STAFF_ROLES = ["viewer", "operator", "admin"] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];

export interface StaffMember {
  identity: string;
  role: StaffRole;
  /** Lower-case clinic ids, or "all". */
  clinics: string[] | "all";
  updated_at: string;
}

function toStaffMember(row: { identity: string; role: StaffRole; clinics: string; updated_at: string }): StaffMember {
  const clinics: unknown = row.clinics === "all" ? "all" : JSON.parse(row.clinics);
  return { ...row, clinics: Array.isArray(clinics) ? clinics.map(String) : "all" };
}

type StaffRow = Parameters<typeof toStaffMember>[0];

/** Every staff row, by identity. */
export async function listStaff(db: D1Database): Promise<StaffMember[]> {
  const { results } = await db.prepare(`SELECT * FROM staff ORDER BY identity`).all<StaffRow>();
  return results.map(toStaffMember);
}

/** One staff row, or null. */
export async function getStaffMember(db: D1Database, identity: string): Promise<StaffMember | null> {
  const row = await db.prepare(`SELECT * FROM staff WHERE identity = ?1`).bind(identity).first<StaffRow>();
  return row ? toStaffMember(row) : null;
}

/** Creates or replaces a staff row. */
export async function upsertStaffMember(
  db: D1Database,
  member: Omit<StaffMember, "updated_at">,
  now: string,
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO staff (identity, role, clinics, updated_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (identity) DO UPDATE SET role = excluded.role, clinics = excluded.clinics, updated_at = excluded.updated_at`,
    )
    .bind(member.identity, member.role, member.clinics === "all" ? "all" : JSON.stringify(member.clinics), now)
    .run();
}

/** Deletes a staff row; true when one existed. */
export async function deleteStaffMember(db: D1Database, identity: string): Promise<boolean> {
  const result = await db.prepare(`DELETE FROM staff WHERE identity = ?1`).bind(identity).run();
  return (result.meta.changes ?? 0) > 0;
}
