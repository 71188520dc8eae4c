import {
  type PatientDigest,
  type PendingPatient,
  selectPendingPatients,
  swapIndexKeyFingerprint,
  writePatientDigests,
} from "../db/search";
import { log } from "../log";
import { digestsOf, indexKeyAvailable, indexKeyFingerprint, normaliseEmail } from "./index-key";

/**
 * Keeps the patient search index in step with the directory. Every patient write (PUT, import) adds
 * {@link indexPatients}' statements to its own D1 batch; anything else that writes a patient (and the
 * rows from before migration 0110, or a deployment without `ADMIN_TOKEN`) is left on the pending list
 * by the table's triggers and indexed by {@link drainPendingPatients} on the 5-minute cron. A delete
 * removes its digests by trigger.
 */

/** Patients per statement (an import's most): two digests of ~130 bytes of JSON each, far below D1's 2 MB value. */
const CHUNK = 1000;
/** Rounds of the cron's drain per run: 10 × 500 patients, 23 D1 queries at most. */
const DRAIN_ROUNDS = 10;
const DRAIN_BATCH = 500;

/** The digests of each patient's phone (E.164 as stored) and email (trimmed, lower-case). */
async function digestRows(env: Env, patients: readonly PendingPatient[]): Promise<PatientDigest[]> {
  const phones = patients.filter((patient) => patient.phone);
  const emails = patients.filter((patient) => patient.email);
  const [phoneDigests, emailDigests] = await Promise.all([
    digestsOf(
      env,
      "phone",
      phones.map((patient) => patient.phone ?? ""),
    ),
    digestsOf(
      env,
      "email",
      emails.map((patient) => normaliseEmail(patient.email ?? "")),
    ),
  ]);
  const row = (patient: PendingPatient, field: PatientDigest["field"], digest: string | undefined) => ({
    clinic_id: patient.clinic_id,
    patient_id: patient.patient_id,
    field,
    digest: digest ?? "",
    value: patient[field] ?? "",
  });
  return [
    ...phones.map((patient, index) => row(patient, "phone", phoneDigests[index])),
    ...emails.map((patient, index) => row(patient, "email", emailDigests[index])),
  ];
}

/**
 * The statements that index these patients, for the batch that writes them (after the writes, whose
 * triggers put them on the pending list and clear their old digests; writing a digest takes them off). None without an index key: the patients then wait on
 * the pending list, and phone and email search is off until `ADMIN_TOKEN` is set.
 */
export async function indexPatients(env: Env, patients: readonly PendingPatient[]): Promise<D1PreparedStatement[]> {
  if (!indexKeyAvailable(env)) return [];
  const statements: D1PreparedStatement[] = [];
  for (let start = 0; start < patients.length; start += CHUNK) {
    const digests = await digestRows(env, patients.slice(start, start + CHUNK));
    if (digests.length > 0) statements.push(writePatientDigests(env.DB, digests));
  }
  return statements;
}

/** The 5-minute cron's job: indexes the patients waiting on the pending list; answers how many. */
export async function drainPendingPatients(env: Env): Promise<number> {
  if (!indexKeyAvailable(env)) return 0;
  // A rotated ADMIN_TOKEN makes every digest stale: all patients go back on the pending list (in the
  // batch that records the new key's fingerprint).
  const fingerprint = await indexKeyFingerprint(env);
  const before = await swapIndexKeyFingerprint(env.DB, fingerprint);
  if (before !== null && before !== fingerprint)
    log.warn("patient search index key changed; re-indexing every patient");
  let indexed = 0;
  for (let round = 0; round < DRAIN_ROUNDS; round++) {
    const pending = await selectPendingPatients(env.DB, DRAIN_BATCH);
    const statements = pending.length > 0 ? await indexPatients(env, pending) : [];
    if (statements.length === 0) break;
    await env.DB.batch(statements);
    indexed += pending.length;
    if (pending.length < DRAIN_BATCH) break;
  }
  if (indexed > 0) log.info("patient search index caught up", { indexed });
  return indexed;
}
