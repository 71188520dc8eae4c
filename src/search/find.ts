import { readBatch } from "../db/batch";
import { coversClinic, type StaffScope } from "../db/scope";
import {
  ID_KINDS,
  type SearchHit,
  selectIdsByPrefix,
  selectOrdersByTracking,
  selectPatientsByDigest,
} from "../db/search";
import { loadClinics, soleClinic } from "../tenancy/clinics";
import { digestsOf, indexKeyAvailable, normaliseEmail } from "./index-key";
import { callingCodeOf, DEFAULT_CALLING_CODE, normalisePhone } from "./phone";

/**
 * One search box for what staff have (issue 24.1): a phone number in any common format, an email
 * address, a tracking number, or the first characters (at least {@link MIN_PREFIX}) of any id. The
 * admin API's `GET /admin/search` and the console's header search both call {@link findAnything}.
 */

export type { SearchHit } from "../db/search";

/** The shortest id prefix searched: shorter ones match too much to be a lookup. */
export const MIN_PREFIX = 4;
/** The longest search text. */
export const MAX_SEARCH_TEXT = 200;
/** Hits per kind of match. */
const LIMIT = 10;

const ID_TEXT = /^[A-Za-z0-9_.:-]+$/;
const TRACKING_TEXT = /^[A-Za-z0-9][A-Za-z0-9 -]{4,48}[A-Za-z0-9]$/;
const PHONE_LIKE = /^\+?[\d\s().\-/]+$/;

/** True when `text` reads as a phone number (phone characters only, at least 7 digits). */
export function looksLikePhone(text: string): boolean {
  return PHONE_LIKE.test(text) && text.replaceAll(/\D/g, "").length >= 7;
}

/** True when `text` reads as an email address. */
export function looksLikeEmail(text: string): boolean {
  return /^[^\s@]+@[^\s@]+$/.test(text);
}

/**
 * The E.164 numbers `text` may stand for: written internationally, itself; written nationally, in the
 * country of each clinic the scope covers (a clinic's country is that of its phone, the US without one).
 */
async function phoneCandidates(env: Env, scope: StaffScope, text: string): Promise<string[]> {
  const clinics = (await loadClinics(env)).filter((clinic) => coversClinic(scope, clinic.clinicId));
  const codes = new Set(clinics.map((clinic) => callingCodeOf(clinic.clinicPhone) ?? DEFAULT_CALLING_CODE));
  if (codes.size === 0) codes.add(DEFAULT_CALLING_CODE);
  const numbers = [...codes].map((code) => normalisePhone(text, code));
  return [...new Set(numbers.filter((number): number is string => number !== null))];
}

/**
 * Everything `text` finds within the scope's clinics, in one D1 round trip (two when it reads as a
 * phone number: the clinics' countries first). Phones and emails are looked up by their keyed digest,
 * never in plain text; without an index key (no `ADMIN_TOKEN`) they find nothing.
 */
export async function findAnything(env: Env, scope: StaffScope, rawText: string): Promise<SearchHit[]> {
  const text = rawText.trim();
  const db = env.DB;
  const sole = soleClinic(env);
  const queries = [];
  if (indexKeyAvailable(env)) {
    const digests = [
      ...(looksLikeEmail(text) ? await digestsOf(env, "email", [normaliseEmail(text)]) : []),
      ...(looksLikePhone(text) ? await digestsOf(env, "phone", await phoneCandidates(env, scope, text)) : []),
    ];
    if (digests.length > 0) queries.push(selectPatientsByDigest(db, scope, sole, digests, LIMIT));
  }
  if (TRACKING_TEXT.test(text)) queries.push(selectOrdersByTracking(db, scope, text.replaceAll(/[\s-]/g, ""), LIMIT));
  if (text.length >= MIN_PREFIX && ID_TEXT.test(text)) {
    for (const kind of ID_KINDS) queries.push(selectIdsByPrefix(db, scope, sole, kind, text, LIMIT));
  }
  if (queries.length === 0) return [];
  const found = (await readBatch(db, queries)).flat();
  // One hit per thing found (a patient found by phone and by id prefix is one patient).
  const seen = new Set<string>();
  return found.filter((hit) => {
    const key = `${hit.kind}:${hit.clinic_id}:${hit.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * What the audit row records as the search: the text itself, unless it is a contact detail, which is
 * recorded as its kind and the first 16 hex digits of its digest (who searched for whom can still be
 * matched against the index; the value is never written).
 */
export async function auditedSearchText(env: Env, rawText: string): Promise<string> {
  const text = rawText.trim();
  const field = looksLikeEmail(text) ? "email" : looksLikePhone(text) ? "phone" : null;
  if (field === null) return text;
  if (!indexKeyAvailable(env)) return field;
  const value = field === "email" ? normaliseEmail(text) : (normalisePhone(text) ?? text.replaceAll(/\D/g, ""));
  const [digest] = await digestsOf(env, field, [value]);
  return `${field}:${(digest ?? "").slice(0, 16)}`;
}
