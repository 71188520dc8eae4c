import { TRACKING_UPDATED_KIND } from "../db/notification-outbox";
import { type EntityKind, EVENT_TYPES, eventTypeParts } from "../event-types";

/** What a patient is told, one per notifying event type: `order:shipped` → `order_shipped`. */
export type NotificationKind = string;

/** `order:shipped` → `order_shipped`. */
export function kindOf(eventType: string): NotificationKind {
  return eventType.replace(":", "_");
}

/**
 * The entity kind a notification kind is about and the status it announces (`order_shipped` → order,
 * shipped), or null for an unknown kind. A tracking update announces nothing new: it belongs to the
 * order's `shipped` status, so it is superseded once the order moves on.
 */
export function subjectOf(kind: NotificationKind): { entity: EntityKind; status: string } | null {
  if (kind === TRACKING_UPDATED_KIND) return { entity: "order", status: "shipped" };
  const eventType = EVENT_TYPES.find((type) => kindOf(type) === kind);
  const parts = eventType ? eventTypeParts(eventType) : null;
  return parts ? { entity: parts.entity, status: parts.status } : null;
}

/** The entity kind a notification kind is about (`order_shipped` → `order`), or null for an unknown kind. */
export function entityKindOf(kind: NotificationKind): EntityKind | null {
  return subjectOf(kind)?.entity ?? null;
}

/** The kind whose `NOTIFICATION_RULES` entry decides a notification kind: a tracking update follows `order_shipped`. */
export function ruleKindOf(kind: NotificationKind): NotificationKind {
  return kind === TRACKING_UPDATED_KIND ? kindOf("order:shipped") : kind;
}
