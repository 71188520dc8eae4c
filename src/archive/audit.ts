import { readAuditRetentionDays } from "../config/retention";
import { AUDIT_SOURCE, forgetAuditObjectsBefore } from "../db/archive";
import { errorKind, log } from "../log";
import { type ArchiveContext, archiveObject } from "./objects";
import { isoDay, oldestUnitOf, readUnitRows, unitRange } from "./units";

/**
 * The audit trail in R2: rows older than {@link AUDIT_ARCHIVE_AFTER_DAYS} move to
 * `audit/<day>/part-<n>.ndjson.gz` the way history does, and stay there for AUDIT_RETENTION_DAYS
 * (default six years). docs/security.md shows the R2 bucket lock that keeps them from being deleted
 * sooner, by anyone.
 */

/** Audit rows stay in D1 (searchable in the console) for a year. */
export const AUDIT_ARCHIVE_AFTER_DAYS = 365;

/** Most D1 queries one audit part takes: unit, next part, pages, record, deletes, mark deleted. */
export const auditPartQueries = (partPages: number) => 4 + 2 * partPages;

/** Archives the next part of the oldest day of audit rows past a year; null when there is none. */
export async function archiveAuditPart(
  context: ArchiveContext,
  partPages: number,
): Promise<{ lines: number; deleted: number } | null> {
  const cutoff = new Date(context.now.getTime() - AUDIT_ARCHIVE_AFTER_DAYS * 86_400_000).toISOString();
  const unit = await oldestUnitOf(context, [AUDIT_SOURCE], cutoff);
  if (!unit) return null;
  const rows = await readUnitRows(context, AUDIT_SOURCE, unit, unitRange(unit, cutoff), partPages);
  if (rows.length === 0) return null;
  const lines = rows.map((row) => ({ table: "audit" as const, row }));
  const deleted = await archiveObject(context, "audit", unit, lines);
  return { lines: lines.length, deleted };
}

/**
 * Deletes audit objects older than AUDIT_RETENTION_DAYS from R2 (up to 1,000 a run; 0 keeps them
 * forever) and forgets them in D1 (one query). A bucket lock that still holds them refuses the
 * delete: that is logged, and the objects stay.
 */
export async function expireAuditObjects(context: ArchiveContext): Promise<number> {
  const days = readAuditRetentionDays(context.env);
  if (days === 0) return 0;
  const cutoffDay = isoDay(context.now.getTime() - days * 86_400_000);
  const listing = await context.env.ARCHIVE.list({ prefix: "audit/", limit: 1000 });
  const expired = listing.objects.map((object) => object.key).filter((key) => key.slice(6, 16) < cutoffDay);
  if (expired.length === 0) return 0;
  try {
    await context.env.ARCHIVE.delete(expired);
  } catch (error) {
    log.error("audit archive expiry refused", { objects: expired.length, error: errorKind(error) });
    return 0;
  }
  context.budget.spend(1);
  await forgetAuditObjectsBefore(context.env.DB, cutoffDay);
  return expired.length;
}
