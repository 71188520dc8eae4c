import type { OrderFacts } from "../db/entities";
import { type NotificationRow, TRACKING_UPDATED_KIND } from "../db/notification-outbox";
import type { ShipmentMessage } from "../db/notification-sends";

/** Whether a tracking update goes out: sent, suppressed with a stable reason, or retried later. */
export type TrackingUpdateVerdict =
  | { action: "send" }
  | { action: "suppress"; reason: string }
  | { action: "retry_later"; reason: string };

/**
 * Decides a tracking update (`order_tracking_updated`) against what the patient was actually told on
 * this channel, read at send time. It goes out only when the latest message sent about the shipment
 * carried another tracking number than the order's current one, and only for the current number (an
 * update for a number that has since changed again leaves it to the newer update). A shipping message
 * still waiting will carry the current number itself, so no update; one whose provider call has an
 * unknown outcome may have told the old number, so the update waits until that is known.
 */
export function trackingUpdateVerdict(
  row: NotificationRow,
  messages: readonly ShipmentMessage[],
  order: OrderFacts | undefined,
): TrackingUpdateVerdict {
  const current = order?.tracking_number ?? null;
  if (current === null || row.topic !== `${TRACKING_UPDATED_KIND}:${current}`)
    return { action: "suppress", reason: "tracking_changed_again" };
  const others = messages.filter(
    (message) =>
      message.entity_id === row.entity_id &&
      message.channel === row.channel &&
      message.notification_id !== row.notification_id,
  );
  const open = (message: ShipmentMessage) => message.status === "pending" || message.status === "scheduled";
  if (others.some((message) => open(message) && message.send_started_at !== null))
    return { action: "retry_later", reason: "shipping message outcome unknown" };
  if (others.some((message) => open(message) && message.kind === "order_shipped"))
    return { action: "suppress", reason: "shipping_message_pending" };
  const told = others
    .filter((message) => message.status === "sent" || message.status === "delivered")
    .sort((a, b) => (a.sent_at ?? "").localeCompare(b.sent_at ?? ""))
    .at(-1);
  if (!told) return { action: "suppress", reason: "no_shipping_message_sent" };
  if (told.told_tracking_number === current) return { action: "suppress", reason: "tracking_already_told" };
  return { action: "send" };
}
