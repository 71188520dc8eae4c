import { type EntityWrite, progressionStep } from "../db/entities";
import type { NovaMedEvent, OrderData } from "./schemas";

/**
 * Order progression: created → processing → shipped → delivered; cancelled ends it (from any
 * state, and outranks a late delivered). Equal ranks are broken by the event's timestamp.
 */
export const ORDER_RANKS = {
  created: 1,
  processing: 2,
  shipped: 3,
  delivered: 4,
  cancelled: 9,
} as const;

export type OrderStatus = keyof typeof ORDER_RANKS;

/** The write an `order:*` event makes to its order. */
export function orderWrite(event: NovaMedEvent & { data: OrderData }, occurredAt: string): EntityWrite<"order"> {
  const data = event.data;
  const step = progressionStep(
    "order",
    ORDER_RANKS,
    event,
    { entityId: data.order_id, patientId: data.patient_id },
    occurredAt,
  );
  const status: OrderStatus = step.status;
  return {
    ...step,
    facts: {
      medication_request_id: data.medication_request_id ?? null,
      carrier: data.carrier ?? null,
      tracking_number: data.tracking_number ?? null,
      estimated_delivery: data.estimated_delivery ?? null,
      shipping_address: data.shipping_address ? JSON.stringify(data.shipping_address) : null,
      cancellation_reason: status === "cancelled" ? (data.cancellation_reason ?? data.reason ?? null) : null,
      shipped_at: status === "shipped" ? occurredAt : null,
      delivered_at: status === "delivered" ? occurredAt : null,
      cancelled_at: status === "cancelled" ? occurredAt : null,
    },
  };
}
