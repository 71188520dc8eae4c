import type { EntityWrite } from "../db/entities";
import { progressionStep } from "./progression";
import type { EventOf } from "./schemas";

/** The write a `refill:*` event makes to its refill. */
export function refillWrite(event: EventOf<"refill">, occurredAt: string): EntityWrite<"refill"> {
  const { data, status } = event;
  return {
    ...progressionStep(event, { entityId: data.refill_id, patientId: data.patient_id }, occurredAt),
    facts: {
      medication_request_id: data.medication_request_id ?? null,
      denial_reason: status === "denied" ? (data.denial_reason ?? data.reason ?? null) : null,
      requested_at: status === "requested" ? occurredAt : null,
      approved_at: status === "approved" ? occurredAt : null,
      denied_at: status === "denied" ? occurredAt : null,
    },
  };
}
