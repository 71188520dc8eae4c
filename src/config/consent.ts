import { z } from "zod";
import { publicBaseUrl } from "./providers";
import { optionalText, settingsReader } from "./read";

/**
 * What the consent routes and links need: the public URL emails link to, the secrets unsubscribe
 * tokens are derived from, and Resend's webhook signing secret.
 */
export interface ConsentSettings {
  /** `PUBLIC_BASE_URL` without a trailing slash; null when unset (emails then carry no unsubscribe link). */
  publicBaseUrl: string | null;
  /**
   * The secrets an unsubscribe token's key may be derived from, the signing one first: `ADMIN_TOKEN`,
   * then each `NOVAMED_WEBHOOK_SECRET` entry, then `NOVAMED_WEBHOOK_KEYS` as written. Never used as
   * keys themselves: each is the input of an HKDF with a label of its own.
   */
  unsubscribeSecrets: string[];
  /** `RESEND_WEBHOOK_SECRET` (`whsec_…`), or null: every Resend webhook is then refused (401). */
  resendWebhookSecret: string | null;
}

const schema = () =>
  z
    .object({
      PUBLIC_BASE_URL: publicBaseUrl(),
      ADMIN_TOKEN: optionalText(),
      NOVAMED_WEBHOOK_SECRET: optionalText(),
      NOVAMED_WEBHOOK_KEYS: optionalText(),
      RESEND_WEBHOOK_SECRET: optionalText(),
    })
    .transform(
      (vars): ConsentSettings => ({
        publicBaseUrl: vars.PUBLIC_BASE_URL,
        unsubscribeSecrets: [
          vars.ADMIN_TOKEN,
          ...(vars.NOVAMED_WEBHOOK_SECRET ?? "").split(",").map((entry) => entry.trim()),
          vars.NOVAMED_WEBHOOK_KEYS,
        ].filter((secret): secret is string => Boolean(secret)),
        resendWebhookSecret: vars.RESEND_WEBHOOK_SECRET,
      }),
    );

/** The consent settings; never throws for a missing value (each use decides what a missing one means). */
export const readConsentSettings = settingsReader(schema);
