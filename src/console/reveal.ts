import type { Context } from "hono";
import { recordAudit } from "../http/audit";
import type { ConsoleApp } from "./types";

export type RevealedField = "phone" | "email";

/** Writes one reveal's audit row (who, whose, what), never the value; throws when it cannot. */
function recordRevealRow(c: Context<ConsoleApp>, action: string, targetType: string, targetId: string) {
  return recordAudit(c, { action, targetType, targetId }, { status: 200, now: c.get("now") });
}

/**
 * The single place a console reveal of a patient's contact detail is recorded: one audit row
 * (`patient.reveal_phone` / `patient.reveal_email`) naming who, whose and which field, never the
 * value. It throws when the row cannot be written, so the caller shows nothing unrecorded.
 */
export async function recordReveal(c: Context<ConsoleApp>, patientId: string, field: RevealedField): Promise<void> {
  await recordRevealRow(c, `patient.reveal_${field}`, "patient", patientId);
}

/**
 * Records a console reveal of an event's payload as sent (contact details, address, medication): one
 * `event.reveal_payload` audit row naming who and which event, never a value. Throws likewise.
 */
export async function recordPayloadReveal(c: Context<ConsoleApp>, eventId: string): Promise<void> {
  await recordRevealRow(c, "event.reveal_payload", "event", eventId);
}
