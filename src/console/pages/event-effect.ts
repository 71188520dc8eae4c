import { ENTITY_TABLES } from "../../db/entities";
import type { EventRow } from "../../db/events";
import { type EntityKind, eventTypeParts } from "../../event-types";
import { normaliseTimestamp } from "../../events/timestamp";

/** What an event did to its entity, in words: its status change (or why it made none) and its facts. */
export interface EntityEffect {
  status: string;
  /** Facts whose current value this event set; null when the event was not applied. */
  currentFacts: string[] | null;
}

/** Facts whose recorded setter (`fact_times`: `"<occurred_at> <event_id>"` per fact) is this event. */
function factsSetBy(kind: EntityKind, entity: Record<string, unknown>, eventId: string): string[] {
  let times: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(String(entity.fact_times ?? "{}")) as unknown;
    if (parsed && typeof parsed === "object") times = parsed as Record<string, unknown>;
  } catch {
    // A row written before fact times were recorded: no fact names a setter.
  }
  const facts: readonly string[] = ENTITY_TABLES[kind].facts;
  return facts.filter((fact) => {
    const key = times[fact];
    // The stored time has no spaces, so everything after the first one is the event id.
    return typeof key === "string" && key.slice(key.indexOf(" ") + 1) === eventId;
  });
}

/**
 * Explains the event's effect on the entity it names: whether it set the current status, and if not
 * why (a later stage, a later event of the same stage, or the tie rule), using the entity row the page
 * already read; the fact times say which current facts it supplied.
 */
export function describeEntityEffect(
  event: EventRow,
  kind: EntityKind,
  noun: string,
  entity: Record<string, unknown> | null,
): EntityEffect {
  if (event.status === "queued" || event.status === "processing") {
    return { status: `Not applied yet: the event is ${event.status}.`, currentFacts: null };
  }
  if (event.status !== "processed") {
    return { status: `Not applied: the event ended ${event.status}, so it changed no ${noun}.`, currentFacts: null };
  }
  if (!entity) return { status: `No ${noun} record was written.`, currentFacts: null };
  const currentStatus = String(entity.status);
  const setter = String(entity.status_event_id);
  const currentFacts = factsSetBy(kind, entity, event.event_id);
  if (setter === event.event_id) {
    return { status: `Set the ${noun}'s current status (${currentStatus}).`, currentFacts };
  }
  const eventStatus = eventTypeParts(event.event_type)?.status ?? event.event_type;
  const eventRank = eventTypeParts(event.event_type)?.rank ?? 0;
  const storedRank = Number(entity.status_rank);
  const prefix = `Stale: did not change the ${noun}'s status (${currentStatus}, set by ${setter})`;
  if (storedRank > eventRank) {
    return { status: `${prefix}, because ${currentStatus} comes after ${eventStatus}.`, currentFacts };
  }
  if (storedRank === eventRank) {
    const eventAt = normaliseTimestamp(event.occurred_at);
    const storedAt = String(entity.status_at);
    if (eventAt !== null && storedAt > eventAt) {
      return { status: `${prefix}, because that event happened later at the same stage.`, currentFacts };
    }
    if (eventAt === storedAt) {
      return {
        status: `${prefix}: both happened at the same instant and the tie rule chose the other (the status safer for the patient, then the greater event id).`,
        currentFacts,
      };
    }
  }
  return { status: `${prefix}.`, currentFacts };
}
