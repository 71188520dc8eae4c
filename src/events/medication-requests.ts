import { type EntityWrite, progressionStep } from "../db/entities";
import type { MedicationRequestData, NovaMedEvent } from "./schemas";

/** Medication request progression: created → approved → filled; cancelled ends it. */
export const MEDICATION_REQUEST_RANKS = {
  created: 1,
  approved: 2,
  filled: 3,
  cancelled: 9,
} as const;

export type MedicationRequestStatus = keyof typeof MEDICATION_REQUEST_RANKS;

/** The write a `medication_request:*` event makes to its medication request. */
export function medicationRequestWrite(
  event: NovaMedEvent & { data: MedicationRequestData },
  occurredAt: string,
): EntityWrite<"medication_request"> {
  const data = event.data;
  const step = progressionStep(
    "medication_request",
    MEDICATION_REQUEST_RANKS,
    event,
    { entityId: data.medication_request_id, patientId: data.patient_id },
    occurredAt,
  );
  const status: MedicationRequestStatus = step.status;
  return {
    ...step,
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
