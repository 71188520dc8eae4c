/**
 * The one table of NovaMed event types: for each entity, the statuses its events move it to, with
 * their rank in the entity's progression. Every event type is `entity:status`, so adding a type is
 * one line here; the union, the list, the ranks, the data schemas and the handler dispatch all
 * derive from this table.
 *
 * A leaf module with no imports, so the Node tools (simulator, benchmark) read the same table.
 *
 * Ranks: a later status outranks an earlier one; terminal states rank highest so a late event never
 * reopens an entity. Equal ranks (a refill approved or denied) are broken by the event's timestamp.
 */
export const EVENT_PROGRESSIONS = {
  /** created → processing → shipped → delivered; cancelled ends it from any state and outranks a late delivered. */
  order: { created: 1, processing: 2, shipped: 3, delivered: 4, cancelled: 9 },
  /** created → approved → filled; cancelled ends it. */
  medication_request: { created: 1, approved: 2, filled: 3, cancelled: 9 },
  /** requested, then approved or denied (either ends it). */
  refill: { requested: 1, approved: 2, denied: 2 },
} as const satisfies Record<string, Record<string, number>>;

/**
 * The tie rule: when two events set statuses of equal rank at the same instant (after normalising
 * their timestamps to UTC milliseconds), the status safer for the patient wins, then the greater
 * event_id, so the outcome never depends on arrival order. A denied refill outranks an approved one:
 * the clinic follows up on a denial, while a wrongly kept approval tells the patient to expect
 * medication that is not coming. Statuses not listed have precedence 0.
 */
export const TIE_PRECEDENCE: { readonly [K in EntityKind]: Readonly<Partial<Record<StatusOf<K>, number>>> } = {
  order: {},
  medication_request: {},
  refill: { denied: 1 },
};

/** The entity an event is about, which is also the entity table it writes. */
export type EntityKind = keyof typeof EVENT_PROGRESSIONS;

/** The statuses of one entity kind: `StatusOf<"refill">` is `"requested" | "approved" | "denied"`. */
export type StatusOf<K extends EntityKind> = K extends EntityKind
  ? keyof (typeof EVENT_PROGRESSIONS)[K] & string
  : never;

/** The event types of one entity kind: `EventTypeOf<"refill">` is `"refill:requested" | …`. */
export type EventTypeOf<K extends EntityKind> = `${K}:${StatusOf<K>}`;

/** Every known NovaMed event type, e.g. `"order:shipped"`. */
export type EventType = { [K in EntityKind]: EventTypeOf<K> }[EntityKind];

/** An event type taken apart: its entity kind, the status it moves that entity to, and that status's rank. */
export type EventTypeParts = { [K in EntityKind]: { entity: K; status: StatusOf<K>; rank: number } }[EntityKind];

export const ENTITY_KINDS = Object.keys(EVENT_PROGRESSIONS) as EntityKind[];

const PARTS = new Map<string, EventTypeParts>(
  Object.entries(EVENT_PROGRESSIONS).flatMap(([entity, ranks]) =>
    Object.entries(ranks).map(([status, rank]) => [`${entity}:${status}`, { entity, status, rank } as EventTypeParts]),
  ),
);

/** Every known event type, entity by entity in progression order. */
export const EVENT_TYPES = [...PARTS.keys()] as readonly EventType[];

/** True when `type` is one of the known event types. */
export function isEventType(type: string): type is EventType {
  return PARTS.has(type);
}

/** The entity kind, status and rank of a known event type, or null for any other string. */
export function eventTypeParts(type: string): EventTypeParts | null {
  return PARTS.get(type) ?? null;
}
