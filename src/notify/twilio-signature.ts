import { timingSafeEqual } from "hono/utils/buffer";

/**
 * Twilio's request signature (X-Twilio-Signature): HMAC-SHA1, keyed with the account's auth token,
 * over the full URL Twilio called followed by every POST parameter sorted by name as name+value;
 * base64-encoded.
 */
export async function twilioSignature(authToken: string, url: string, params: Record<string, string>): Promise<string> {
  const payload =
    url +
    Object.keys(params)
      .sort()
      .map((name) => `${name}${params[name]}`)
      .join("");
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(authToken),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(payload));
  return btoa(String.fromCharCode(...new Uint8Array(mac)));
}

/**
 * True when `signature` is Twilio's for one of `urls` under one of `authTokens` (compared in constant
 * time). Several tokens while one is being rotated: Twilio signs with whichever is primary at the
 * moment, so a STOP signed with the old or the new token is accepted.
 */
export async function isValidTwilioSignature(
  authTokens: readonly string[],
  signature: string | undefined,
  urls: readonly string[],
  params: Record<string, string>,
): Promise<boolean> {
  if (!signature) return false;
  const checks = await Promise.all(
    authTokens.flatMap((authToken) =>
      urls.map(async (url) => timingSafeEqual(await twilioSignature(authToken, url, params), signature)),
    ),
  );
  return checks.includes(true);
}
