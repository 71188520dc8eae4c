import { type EntityWrite, upsertEntity, type WriteGuard } from "../db/entities";
import type { EntityKind, EventType } from "../event-types";
import { medicationRequestWrite } from "./medication-requests";
import { orderWrite } from "./orders";
import { refillWrite } from "./refills";
import type { EventOf, NovaMedEvent } from "./schemas";

/**
 * What applying one event means: the entity write it makes and the D1 statements that commit it.
 * This is the seam patient notifications hang off: `statements` can grow with outbox rows that
 * follow from `write`, and everything in it commits in the consumer's one `db.batch`.
 */
export interface EntityChange {
  eventType: EventType;
  write: EntityWrite;
  statements: D1PreparedStatement[];
}

/**
 * Something that follows from entity changes, such as patient notifications. Registered in the queue
 * wiring, so the consumer itself never changes: `statements` adds rows committed in the same batch as
 * the change; `afterCommit` runs once the batch committed, with the changes whose events we completed.
 */
export interface ChangeListener {
  statements(change: EntityChange, guard: WriteGuard, db: D1Database): D1PreparedStatement[];
  afterCommit?(committed: readonly EntityChange[], env: Env): Promise<void>;
}

type EntityWriter<K extends EntityKind> = (event: EventOf<K>, occurredAt: string) => EntityWrite<K>;

/** One handler per entity kind; a kind without a handler here does not compile. */
const ENTITY_WRITERS: { [K in EntityKind]: EntityWriter<K> } = {
  order: orderWrite,
  medication_request: medicationRequestWrite,
  refill: refillWrite,
};

/** The entity write an event makes, by the handler of its entity kind. */
export function entityWrite<K extends EntityKind>(event: EventOf<K>, occurredAt: string): EntityWrite<K> {
  const write: EntityWriter<K> = ENTITY_WRITERS[event.entity];
  return write(event, occurredAt);
}

/**
 * Applies one valid event: its guarded entity upsert, then whatever the listeners add. Pure: it
 * builds statements and runs nothing, so the consumer can commit a whole batch in one round trip.
 */
export function applyEvent(
  db: D1Database,
  event: NovaMedEvent,
  occurredAt: string,
  guard: WriteGuard,
  listeners: readonly ChangeListener[] = [],
): EntityChange {
  const write = entityWrite(event, occurredAt);
  const change: EntityChange = { eventType: event.event_type, write, statements: [upsertEntity(db, write, guard)] };
  for (const listener of listeners) change.statements.push(...listener.statements(change, guard, db));
  return change;
}
