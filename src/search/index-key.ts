import { readAdminIdentity } from "../config/admin";
import { ConfigError } from "../config/read";

/**
 * The keyed digests of the patient search index. Phones and emails are never stored searchable in
 * plain text: the index (migration 0110) holds HMAC-SHA-256 of each normalised value under a key
 * derived from `ADMIN_TOKEN` with a fixed label (as the console's session key is), so a copy of the
 * database alone cannot be searched or reversed by trying every phone number.
 */

/** The contact fields the index keeps, each with how a value is normalised before it is digested. */
export type IndexedField = "phone" | "email";

const LABEL = "novamed-search-index-v1";
const encoder = new TextEncoder();
const keyCache = new Map<string, Promise<CryptoKey>>();

/** The index key of this deployment: HMAC of {@link LABEL} under `ADMIN_TOKEN`, imported once per token. */
function indexKey(env: Env): Promise<CryptoKey> {
  const { token } = readAdminIdentity(env);
  if (token === null)
    throw new ConfigError("ADMIN_TOKEN", "is not set: the patient search index needs it to derive its key");
  let key = keyCache.get(token);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", encoder.encode(token), { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
      .then((tokenKey) => crypto.subtle.sign("HMAC", tokenKey, encoder.encode(LABEL)))
      .then((derived) => crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]));
    keyCache.clear(); // one token at a time
    keyCache.set(token, key);
  }
  return key;
}

/** True when the index key can be derived (ADMIN_TOKEN set); phone and email search need it. */
export function indexKeyAvailable(env: Env): boolean {
  return readAdminIdentity(env).token !== null;
}

/** An email as the index keeps it: trimmed and lower-case. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** The digests of `values` of one field (already normalised: E.164 phones, {@link normaliseEmail} emails), hex. */
export async function digestsOf(env: Env, field: IndexedField, values: readonly string[]): Promise<string[]> {
  const key = await indexKey(env);
  return Promise.all(
    values.map(async (value) => {
      const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${field}:${value}`));
      return [...new Uint8Array(mac)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
    }),
  );
}

/** A fingerprint of the index key (a digest of a fixed text under it), to notice a rotated `ADMIN_TOKEN`. */
export async function indexKeyFingerprint(env: Env): Promise<string> {
  const [digest] = await digestsOf(env, "phone", ["key-fingerprint"]);
  return (digest ?? "").slice(0, 16);
}
