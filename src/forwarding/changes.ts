import type { ChangeRow } from "../db/changes";

/**
 * A change as the clinic's systems receive it (a destination's delivery and `GET /admin/changes` alike):
 * `{"type", "id", "occurred_at", "clinic_id", "entity": {"kind", "id", "status", "sequence"}, "data"}`.
 * `entity.sequence` increases with every change of the receiver (so per entity too): a receiver keeps
 * the highest it applied per entity and drops an older one that arrives late. `data` names the
 * previous status and the NovaMed event behind the change; ids, statuses and times only.
 */
export function changeBody(change: ChangeRow) {
  return {
    type: change.type,
    id: change.change_id,
    occurred_at: change.occurred_at,
    clinic_id: change.clinic_id,
    entity: { kind: change.entity_kind, id: change.entity_id, status: change.status, sequence: change.sequence },
    data: { previous_status: change.previous_status, event_id: change.event_id },
  };
}
export type ChangeBody = ReturnType<typeof changeBody>;
