import { readClinicIds, readSenderDefaults } from "../config/clinics";
import { readNotificationSettings } from "../config/notifications";
import { getClinicProfiles } from "../db/clinics";
import type { DirectoryClinic } from "../db/patients";
import { coversClinic, type StaffScope } from "../db/scope";
import { type ClinicSettings, clinicSettings } from "./clinic-settings";

/**
 * The allowed clinics (`NOVAMED_CLINIC_IDS`, in configured order) with their effective settings, in
 * one D1 query. Throws a ConfigError when a notification default cannot be read.
 */
export async function loadClinics(env: Env, db: D1Database = env.DB): Promise<ClinicSettings[]> {
  const ids = readClinicIds(env);
  const base = readNotificationSettings(env);
  const senders = readSenderDefaults(env);
  const profiles = await getClinicProfiles(db, ids);
  return ids.map((id) => clinicSettings(base, senders, id, profiles.get(id)));
}

/** One allowed clinic's settings, or null when the id is not in `NOVAMED_CLINIC_IDS`. */
export async function loadClinic(env: Env, clinicId: string): Promise<ClinicSettings | null> {
  const id = clinicId.toLowerCase();
  if (!readClinicIds(env).includes(id)) return null;
  const profiles = await getClinicProfiles(env.DB, [id]);
  return clinicSettings(readNotificationSettings(env), readSenderDefaults(env), id, profiles.get(id));
}

/**
 * The clinics whose texts go out from the sender that received an inbound message: matched on the
 * Messaging Service it arrived through, else on the number it was sent to. Several clinics when they
 * share that sender; none for a number no clinic sends from.
 */
export function clinicsOfSender(
  clinics: readonly ClinicSettings[],
  received: { messagingServiceSid?: string; to?: string },
): { senderKey: string; clinics: ClinicSettings[] } | null {
  for (const key of [received.messagingServiceSid, received.to]) {
    if (!key) continue;
    const matched = clinics.filter((clinic) => clinic.senderKey === key);
    if (matched.length > 0) return { senderKey: key, clinics: matched };
  }
  return null;
}

/** The only configured clinic, or null when several are: unassigned directory rows are its own. */
export function soleClinic(env: Env): string | null {
  const ids = readClinicIds(env);
  return ids.length === 1 ? (ids[0] ?? null) : null;
}

/** A clinic's directory (its rows, and the unassigned ones while it is the only clinic), or null outside the allow-list. */
export function directoryOf(env: Env, clinicId: string): DirectoryClinic | null {
  const id = clinicId.toLowerCase();
  const ids = readClinicIds(env);
  if (!ids.includes(id)) return null;
  return { clinicId: id, withUnassigned: ids.length === 1 };
}

/**
 * The directory a request without a clinic (the old `/admin/patients` routes, an import row without
 * `clinic_id`) means for an identity of `scope`: the only configured clinic, or else the identity's
 * only clinic; null when that is ambiguous (several clinics either way: 400 `clinic_required`) or
 * the clinic is not one of the identity's.
 */
export function impliedDirectory(env: Env, scope: StaffScope): DirectoryClinic | null {
  const only = soleClinic(env) ?? (scope.clinics !== "all" && scope.clinics.length === 1 ? scope.clinics[0] : null);
  if (!only || !coversClinic(scope, only)) return null;
  return directoryOf(env, only);
}

/** A clinic's directory as an identity of `scope` may use it: null outside the allow-list or its clinics. */
export function directoryWithin(env: Env, scope: StaffScope, clinicId: string): DirectoryClinic | null {
  return coversClinic(scope, clinicId) ? directoryOf(env, clinicId) : null;
}
