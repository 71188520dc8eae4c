import type { Context } from "hono";
import { recordAudit } from "../http/audit";
import type { ConsoleApp } from "./types";

export type RevealedField = "phone" | "email";

/**
 * The single place a console reveal of a patient's contact detail is recorded: one audit row
 * (`patient.reveal_phone` / `patient.reveal_email`) naming who, whose and which field, never the
 * value. It throws when the row cannot be written, so the caller shows nothing unrecorded.
 */
export async function recordReveal(c: Context<ConsoleApp>, patientId: string, field: RevealedField): Promise<void> {
  await recordAudit(
    c,
    { action: `patient.reveal_${field}`, targetType: "patient", targetId: patientId },
    { status: 200, now: c.get("now") },
  );
}
