/** What a patient is told, one per notifying event type: `order:shipped` → `order_shipped`. */
export type NotificationKind = string;

/** `order:shipped` → `order_shipped`. */
export function kindOf(eventType: string): NotificationKind {
  return eventType.replace(":", "_");
}
