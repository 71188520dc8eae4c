import { type EntityWrite, progressionStep } from "../db/entities";
import type { NovaMedEvent, RefillData } from "./schemas";

/** Refill progression: requested, then approved or denied (either ends it). */
export const REFILL_RANKS = {
  requested: 1,
  approved: 2,
  denied: 2,
} as const;

export type RefillStatus = keyof typeof REFILL_RANKS;

/** The write a `refill:*` event makes to its refill. */
export function refillWrite(event: NovaMedEvent & { data: RefillData }, occurredAt: string): EntityWrite<"refill"> {
  const data = event.data;
  const step = progressionStep(
    "refill",
    REFILL_RANKS,
    event,
    { entityId: data.refill_id, patientId: data.patient_id },
    occurredAt,
  );
  const status: RefillStatus = step.status;
  return {
    ...step,
    facts: {
      medication_request_id: data.medication_request_id ?? null,
      denial_reason: status === "denied" ? (data.denial_reason ?? data.reason ?? null) : null,
      requested_at: status === "requested" ? occurredAt : null,
      approved_at: status === "approved" ? occurredAt : null,
      denied_at: status === "denied" ? occurredAt : null,
    },
  };
}
