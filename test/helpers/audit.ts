import { env } from "cloudflare:workers";
import type { AuditRow } from "../../src/db/audit";
import { wrapDatabase } from "./d1";

/** An audit row as D1 stores it: `detail` still the JSON text the writer stored. */
export type StoredAuditRow = Omit<AuditRow, "detail"> & { detail: string | null };

/** Every audit row of one target, oldest first. */
export async function auditRowsOf(targetType: string, targetId: string): Promise<StoredAuditRow[]> {
  const { results } = await env.DB.prepare(
    `SELECT * FROM audit WHERE target_type = ?1 AND target_id = ?2 ORDER BY audit_id`,
  )
    .bind(targetType, targetId)
    .all<StoredAuditRow>();
  return results;
}

/** The only audit row of one target; fails when there is none or more than one. */
export async function onlyAuditRowOf(targetType: string, targetId: string): Promise<StoredAuditRow> {
  const rows = await auditRowsOf(targetType, targetId);
  if (rows.length !== 1) throw new Error(`expected one audit row for ${targetType} ${targetId}, found ${rows.length}`);
  return rows[0] as StoredAuditRow;
}

/** `env.DB` refusing every audit insert (as an unavailable D1 would), all else passed through. */
export function auditlessDatabase(): D1Database {
  return wrapDatabase(env.DB, {
    prepare: (sql, prepare) => {
      if (sql.startsWith("INSERT INTO audit")) throw new Error("D1 unavailable");
      return prepare(sql);
    },
  });
}
