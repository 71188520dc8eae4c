import { describe, expect, it } from "vitest";
import type { NotificationRow } from "../../src/db/notification-outbox";
import type { ShipmentMessage } from "../../src/db/notification-sends";
import { trackingUpdateVerdict } from "../../src/notify/tracking-update";

const ORDER = "ord_tracking_unit";
const update = {
  notification_id: "ntf_update",
  entity_id: ORDER,
  channel: "sms",
  kind: "order_tracking_updated",
  topic: "order_tracking_updated:1Z999AA10123456795",
} as NotificationRow;
const order = { carrier: "UPS", tracking_number: "1Z999AA10123456795", estimated_delivery: null };

function shipping(fields: Partial<ShipmentMessage>): ShipmentMessage {
  return {
    notification_id: "ntf_shipping",
    kind: "order_shipped",
    entity_id: ORDER,
    channel: "sms",
    status: "sent",
    told_tracking_number: "1Z999AA10123456784",
    send_started_at: null,
    sent_at: "2026-01-15T15:00:00.000Z",
    ...fields,
  };
}

describe("whether a tracking update goes out", () => {
  it("goes out when the last message sent carried another number", () => {
    expect(trackingUpdateVerdict(update, [shipping({})], order)).toEqual({ action: "send" });
  });

  it("not when the patient was already told this number", () => {
    const told = shipping({ told_tracking_number: order.tracking_number });
    expect(trackingUpdateVerdict(update, [told], order)).toEqual({
      action: "suppress",
      reason: "tracking_already_told",
    });
  });

  it("not for a number that has changed again since (the newer update says it)", () => {
    const changed = { ...order, tracking_number: "1Z999AA10123456806" };
    expect(trackingUpdateVerdict(update, [shipping({})], changed)).toMatchObject({ reason: "tracking_changed_again" });
  });

  it("not while the shipping message still waits: it will carry the number itself", () => {
    const waiting = shipping({ status: "scheduled", sent_at: null });
    expect(trackingUpdateVerdict(update, [waiting], order)).toMatchObject({ reason: "shipping_message_pending" });
  });

  it("waits while a shipping message's outcome is unknown (it may have told the old number)", () => {
    const inFlight = shipping({ status: "pending", sent_at: null, send_started_at: "2026-01-15T15:00:00.000Z" });
    expect(trackingUpdateVerdict(update, [inFlight], order).action).toBe("retry_later");
  });

  it("not when no shipping message reached the patient on this channel", () => {
    const suppressed = shipping({ status: "suppressed", sent_at: null, told_tracking_number: null });
    const email = shipping({ channel: "email" });
    expect(trackingUpdateVerdict(update, [suppressed, email], order)).toMatchObject({
      reason: "no_shipping_message_sent",
    });
  });
});
