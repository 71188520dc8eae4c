import { openClinicMismatchAlert, selectEntityClinics } from "../db/clinics";
import type { WriteGuard } from "../db/entities";
import type { Completion } from "../db/events";
import type { EntityChange } from "../events/handlers";
import { errorKind, log } from "../log";

/** The part of a consumer's work item the clinic guard reads and rewrites. */
export interface GuardedWork {
  completion: Completion;
  change?: EntityChange;
  statements: D1PreparedStatement[];
}

/** The issue a `clinic_mismatch` event records (paths and messages, never values). */
export const CLINIC_MISMATCH_ISSUE = {
  path: "clinic_id",
  code: "clinic_mismatch",
  message: "the entity was first seen under another clinic; an event of this clinic may not change it",
};

/**
 * An entity first seen under one clinic is never changed by another clinic's event (issue 22.2): such
 * an event ends `invalid` with the issue `clinic_mismatch`, its effects dropped, and opens an alert.
 * One D1 read for the whole batch (the clinics of the entities it touches); events of the same batch
 * count in order, so the first event of a new entity decides its clinic. The entity upsert also
 * refuses a change of clinic in SQL (src/db/entities.ts), for two consumers racing on a new entity.
 * When the read fails, the changed events become `failed` (retried): nothing is applied unchecked.
 * The alert, like every effect, is opened only by the attempt whose record takes the event.
 */
export async function guardEntityClinics(db: D1Database, work: GuardedWork[], guard: WriteGuard): Promise<number> {
  const changing = work.filter((item) => item.change !== undefined);
  if (changing.length === 0) return 0;
  const ids = { order: new Set<string>(), medication_request: new Set<string>(), refill: new Set<string>() };
  for (const item of changing) if (item.change) ids[item.change.write.kind].add(item.change.write.entityId);
  let firstSeen: Map<string, string>;
  try {
    const { results } = await selectEntityClinics(db, {
      order: [...ids.order],
      medication_request: [...ids.medication_request],
      refill: [...ids.refill],
    }).all<{ kind: string; entity_id: string; clinic_id: string }>();
    firstSeen = new Map(results.map((row) => [`${row.kind}\n${row.entity_id}`, row.clinic_id.toLowerCase()]));
  } catch (error) {
    log.warn("entity clinic check failed", { events: changing.length, error: errorKind(error) });
    for (const item of changing) {
      item.completion = { eventId: item.completion.eventId, status: "failed", error: "entity clinic check failed" };
      item.change = undefined;
      item.statements = [];
    }
    return 1;
  }
  for (const item of changing) {
    const write = item.change?.write;
    if (!write) continue;
    const key = `${write.kind}\n${write.entityId}`;
    const clinicId = write.clinicId.toLowerCase();
    const owner = firstSeen.get(key);
    if (owner === undefined) {
      firstSeen.set(key, clinicId);
      continue;
    }
    if (owner === clinicId) continue;
    log.warn("event for another clinic's entity", {
      event_id: item.completion.eventId,
      entity: write.kind,
      entity_id: write.entityId,
    });
    item.completion = {
      eventId: item.completion.eventId,
      status: "invalid",
      issues: JSON.stringify([CLINIC_MISMATCH_ISSUE]),
    };
    item.change = undefined;
    item.statements = [openClinicMismatchAlert(db, item.completion.eventId, clinicId, guard)];
  }
  return 1;
}
