import type { EntityWrite } from "../db/entities";
import { progressionStep } from "./progression";
import type { EventOf } from "./schemas";

/** The write a `medication_request:*` event makes to its medication request. */
export function medicationRequestWrite(
  event: EventOf<"medication_request">,
  occurredAt: string,
): EntityWrite<"medication_request"> {
  const { data, status } = event;
  return {
    ...progressionStep(event, { entityId: data.medication_request_id, patientId: data.patient_id }, occurredAt),
    facts: {
      practitioner_id: data.practitioner_id ?? null,
      medication_name: data.medication_name ?? null,
      quantity: data.quantity ?? null,
      refills: data.refills ?? null,
      cancellation_reason: status === "cancelled" ? (data.cancellation_reason ?? data.reason ?? null) : null,
      approved_at: status === "approved" ? (data.approved_at ?? occurredAt) : null,
      filled_at: status === "filled" ? (data.filled_at ?? occurredAt) : null,
      cancelled_at: status === "cancelled" ? occurredAt : null,
    },
  };
}
