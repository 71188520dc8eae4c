import { ConfigError } from "../config/read";
import { readBatch } from "../db/batch";
import { type ConsentRow, optOutContact, selectPatientConsent } from "../db/consent";
import { type DirectoryClinic, getPatient, type Patient } from "../db/patients";
import { loadClinic } from "../tenancy/clinics";
import type { UnsubscribeClaim } from "./unsubscribe-token";

/** Why a patient's SMS is not sent although staff recorded consent: a STOP (any of its keywords, or Twilio's 21610). */
export type SmsOptOutReason = "stop";

/**
 * A patient as the admin API shows them: consent as it takes effect (`sms_opt_in` / `email_opt_in`
 * false while the patient is opted out, with the reason) and whether the phone is reachable.
 */
export interface EffectiveConsent {
  sms_opt_in: boolean;
  email_opt_in: boolean;
  sms_opt_out_reason: SmsOptOutReason | null;
  email_opt_out_reason: ConsentRow["email_opt_out_reason"];
  /** `unreachable` once Twilio said the number cannot take texts (until the phone changes); null without a phone. */
  phone_status: "ok" | "unreachable" | null;
  /** The Twilio error that made it unreachable, e.g. `twilio 21614`. */
  phone_unreachable_error: string | null;
}

/** The clinic's SMS sender (per-sender STOPs count for it), or null when its settings cannot be read. */
async function senderKeyOf(env: Env, clinicId: string): Promise<string | null> {
  try {
    return (await loadClinic(env, clinicId))?.senderKey ?? null;
  } catch (error) {
    if (error instanceof ConfigError) return null;
    throw error;
  }
}

/** Consent as it takes effect, from the directory entry and the opt-outs of its current contacts. */
export function effectiveConsent(patient: Patient, row: ConsentRow | undefined): EffectiveConsent {
  const smsReason = row?.sms_stop_source ? "stop" : null;
  const emailReason = row?.email_opt_out_reason ?? null;
  return {
    sms_opt_in: patient.sms_opt_in && smsReason === null,
    email_opt_in: patient.email_opt_in && emailReason === null,
    sms_opt_out_reason: smsReason,
    email_opt_out_reason: emailReason,
    phone_status: patient.phone ? (row?.phone_unreachable ? "unreachable" : "ok") : null,
    phone_unreachable_error: row?.phone_unreachable ?? null,
  };
}

/** A clinic's patient with effective consent ({@link EffectiveConsent}), or null; one round trip after the clinic's settings. */
export async function readPatientWithConsent(env: Env, directory: DirectoryClinic, patientId: string) {
  const senderKey = await senderKeyOf(env, directory.clinicId);
  const [patient, [consent]] = await Promise.all([
    getPatient(env.DB, directory, patientId),
    readBatch(env.DB, [selectPatientConsent(env.DB, directory, patientId, senderKey)]),
  ]);
  return patient ? { ...patient, ...effectiveConsent(patient, consent?.[0]) } : null;
}

/**
 * The patient's own unsubscribe through a link: consent on the claim's channel off for the contact on
 * file now (reason `unsubscribed`), idempotent. False when the patient is not in the directory or has
 * no such contact (nothing to stop).
 */
export async function unsubscribePatient(
  db: D1Database,
  clinicId: string,
  patient: Patient | null,
  claim: UnsubscribeClaim,
  now: string,
): Promise<boolean> {
  const contact = claim.channel === "email" ? patient?.email : patient?.phone;
  if (!patient || !contact) return false;
  await optOutContact(
    db,
    clinicId,
    patient.patient_id,
    { channel: claim.channel, contact, reason: "unsubscribed", detail: "link" },
    now,
  ).run();
  return true;
}
