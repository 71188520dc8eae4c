import { log } from "../log";

export type RevealedField = "phone" | "email";

/**
 * The single place a console reveal of a patient's contact detail is recorded. Today a structured log
 * line naming who, whose and which field (never the value); the audit trail (issue 13) turns this
 * into an audit row.
 */
export function recordReveal(reveal: {
  actor: string;
  patientId: string;
  field: RevealedField;
  requestId: string | null;
}): void {
  log.info("console contact revealed", {
    actor: reveal.actor,
    patient_id: reveal.patientId,
    field: reveal.field,
    request_id: reveal.requestId,
  });
}
