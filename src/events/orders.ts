import type { EntityWrite } from "../db/entities";
import { progressionStep } from "./progression";
import type { EventOf } from "./schemas";

/** The write an `order:*` event makes to its order. */
export function orderWrite(event: EventOf<"order">, occurredAt: string): EntityWrite<"order"> {
  const { data, status } = event;
  return {
    ...progressionStep(event, { entityId: data.order_id, patientId: data.patient_id }, occurredAt),
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
