import { readConsentSettings } from "../config/consent";
import { type UnsubscribeClaim, unsubscribeToken } from "./unsubscribe-token";

/** Where unsubscribe links point and what signs them; null when either is missing. */
export interface UnsubscribeLinks {
  baseUrl: string;
  secrets: readonly string[];
}

/** The links of this deployment: `PUBLIC_BASE_URL` and the secrets tokens are derived from. */
export function unsubscribeLinksOf(env: Env): UnsubscribeLinks | null {
  const { publicBaseUrl, unsubscribeSecrets } = readConsentSettings(env);
  return publicBaseUrl && unsubscribeSecrets.length > 0
    ? { baseUrl: publicBaseUrl, secrets: unsubscribeSecrets }
    : null;
}

/** The path of a token's page and its one-click POST. */
export const unsubscribePath = (token: string) => `/u/${token}`;

/**
 * The RFC 8058 headers of an email to a clinic's patient: `List-Unsubscribe` with the HTTPS link and
 * `List-Unsubscribe-Post: List-Unsubscribe=One-Click`, which together let a mailbox provider show its
 * own "Unsubscribe" button (Gmail and Yahoo require it of bulk senders).
 */
export async function unsubscribeHeaders(
  links: UnsubscribeLinks,
  claim: UnsubscribeClaim,
): Promise<Record<string, string> | null> {
  const token = await unsubscribeToken(links.secrets, claim);
  if (!token) return null;
  return {
    "List-Unsubscribe": `<${links.baseUrl}${unsubscribePath(token)}>`,
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
  };
}
