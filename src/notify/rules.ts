import { type EntityKind, EVENT_TYPES, eventTypeParts } from "../events/event-types";

/** What a patient is told, one per notifying event type: `order:shipped` → `order_shipped`. */
export type NotificationKind = string;

/** `order:shipped` → `order_shipped`. */
export function kindOf(eventType: string): NotificationKind {
  return eventType.replace(":", "_");
}

/** The entity kind a notification kind is about (`order_shipped` → `order`), or null for an unknown kind. */
export function entityKindOf(kind: NotificationKind): EntityKind | null {
  const eventType = EVENT_TYPES.find((type) => kindOf(type) === kind);
  return eventType ? (eventTypeParts(eventType)?.entity ?? null) : null;
}
