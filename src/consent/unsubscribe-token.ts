import { timingSafeEqual } from "hono/utils/buffer";
import type { Channel } from "../channels";

/**
 * Unsubscribe tokens (RFC 8058 links): `<payload><mac>`, both base64url, so the token holds only
 * `[A-Za-z0-9_-]`. The payload is the clinic id, the patient id and the channel (ids only, no contact
 * or other PHI); the MAC is the first 16 bytes of an HMAC-SHA-256 over the payload with a key derived
 * by HKDF from one of the configured secrets under a label of its own, so the secret itself signs
 * nothing and a token cannot be forged or altered without it. A token verifies with any configured
 * secret, so a link keeps working while the secret it was made with is still configured.
 */

/** What a token names: whose consent on which channel. */
export interface UnsubscribeClaim {
  clinicId: string;
  patientId: string;
  channel: Channel;
}

const MAC_BYTES = 16;
/** base64url length of {@link MAC_BYTES} bytes, without padding. */
const MAC_CHARS = 22;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]+$/;
const LABEL = "novamed-unsubscribe-v1";
const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function keyOf(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"])
      .then((material) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encoder.encode(LABEL) },
          material,
          { name: "HMAC", hash: "SHA-256", length: 256 },
          false,
          ["sign"],
        ),
      );
    keys.set(secret, key);
  }
  return key;
}

function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "");
}

function fromBase64Url(text: string): Uint8Array | null {
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return Uint8Array.from(binary, (character) => character.charCodeAt(0));
  } catch {
    return null;
  }
}

async function macOf(secret: string, payload: string): Promise<string> {
  const signature = await crypto.subtle.sign("HMAC", await keyOf(secret), encoder.encode(payload));
  return toBase64Url(new Uint8Array(signature).slice(0, MAC_BYTES));
}

/** The token for a claim, with the first secret; null when no secret is configured. */
export async function unsubscribeToken(secrets: readonly string[], claim: UnsubscribeClaim): Promise<string | null> {
  const [secret] = secrets;
  if (!secret) return null;
  const payload = toBase64Url(encoder.encode(`${claim.clinicId}\n${claim.patientId}\n${claim.channel}`));
  return `${payload}${await macOf(secret, payload)}`;
}

/** The claim a token carries, or null for a malformed, forged or altered one. */
export async function verifyUnsubscribeToken(
  secrets: readonly string[],
  token: string,
): Promise<UnsubscribeClaim | null> {
  if (token.length <= MAC_CHARS || token.length > 1024 || !TOKEN_PATTERN.test(token)) return null;
  const payload = token.slice(0, -MAC_CHARS);
  const mac = token.slice(-MAC_CHARS);
  let valid = false;
  for (const secret of secrets) if (await timingSafeEqual(mac, await macOf(secret, payload))) valid = true;
  if (!valid) return null;
  const bytes = fromBase64Url(payload);
  if (!bytes) return null;
  const [clinicId, patientId, channel, ...rest] = new TextDecoder().decode(bytes).split("\n");
  if (!clinicId || !patientId || rest.length > 0 || (channel !== "email" && channel !== "sms")) return null;
  return { clinicId, patientId, channel };
}
