import type { EntityWrite } from "../db/entities";
import type { EntityKind } from "../event-types";
import type { EventOf } from "./schemas";

/**
 * The part of an entity write every handler shares: the status the event type names, ranked by the
 * entity's progression (both from the event-type table), and the ids; the handler adds its facts.
 */
export function progressionStep<K extends EntityKind>(
  event: EventOf<K>,
  ids: { entityId: string; patientId: string },
  occurredAt: string,
): Omit<EntityWrite<K>, "facts"> {
  return {
    kind: event.entity,
    ...ids,
    clinicId: event.clinic_id,
    status: event.status,
    rank: event.rank,
    occurredAt,
    eventId: event.event_id,
  };
}
