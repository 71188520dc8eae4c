import { andInScope, type StaffScope } from "./scope";

/** Typed SQL for changes (migration 0121): written by triggers on the state tables, read in commit order. */

export type ChangeKind = "order" | "medication_request" | "refill" | "notification";

export interface ChangeRow {
  sequence: number;
  change_id: string;
  type: string;
  occurred_at: string;
  clinic_id: string | null;
  entity_kind: ChangeKind;
  entity_id: string;
  status: string;
  previous_status: string | null;
  event_id: string | null;
}

/**
 * Up to `limit` changes after `after` (a sequence; 0 = from the start), in commit order, within the
 * scope's clinics, along the primary key (a scope of some clinics filters as it walks).
 */
export async function listChanges(
  db: D1Database,
  scope: StaffScope,
  after: number,
  limit: number,
): Promise<ChangeRow[]> {
  const inScope = andInScope(scope, "clinic_id", "?3");
  const { results } = await db
    .prepare(`SELECT * FROM changes WHERE sequence > ?1${inScope.sql} ORDER BY sequence LIMIT ?2`)
    .bind(after, limit, ...inScope.values)
    .all<ChangeRow>();
  return results;
}

/**
 * Deletes, among the `limit` oldest sequences (a range of the primary key), the changes that occurred
 * before `cutoff`; answers how many went. The feed's start moves forward. The newest change always
 * stays, so the next one never reuses its sequence (a resuming client would miss it). A change a
 * destination still has to hear of stays too: one beyond an enabled destination's fan-out cursor, or
 * with a delivery still pending (its body is read from here at each try).
 */
export async function purgeChanges(db: D1Database, cutoff: string, limit: number): Promise<number> {
  const result = await db
    .prepare(
      `DELETE FROM changes
WHERE sequence BETWEEN (SELECT MIN(sequence) FROM changes) AND (SELECT MIN(sequence) FROM changes) + ?2 - 1
  AND occurred_at < ?1 AND sequence < (SELECT MAX(sequence) FROM changes)
  AND sequence <= COALESCE((SELECT MIN(fanout_cursor) FROM destinations WHERE enabled = 1 AND state <> 'disabled'), sequence)
  AND NOT EXISTS (SELECT 1 FROM clinic_deliveries d WHERE d.change_id = changes.change_id AND d.status = 'pending')`,
    )
    .bind(cutoff, limit)
    .run();
  return result.meta.changes ?? 0;
}
