import { encodeCursor, readCursor } from "./cursor";

/** The audit trail's cursor (admin API and console): the last row's place in the newest-first order. */

/** The cursor that continues after `row`. */
export function encodeAuditCursor(row: { at: string; audit_id: number }): string {
  return encodeCursor([row.at, String(row.audit_id)]);
}

/** The position a cursor names, or null when it is not one {@link encodeAuditCursor} made. */
export function decodeAuditCursor(cursor: string): { at: string; auditId: number } | null {
  const [at, id] = readCursor(cursor, 2) ?? [];
  const auditId = Number(id);
  return at !== undefined && id !== undefined && id !== "" && Number.isSafeInteger(auditId) ? { at, auditId } : null;
}
