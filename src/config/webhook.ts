import { z } from "zod";
import { commaList, settingsReader } from "./read";

/** What the webhook edge needs: the accepted API keys and the clinics this receiver serves. */
export interface WebhookConfig {
  /** Every accepted `x-api-key`; more than one during a key rotation. */
  apiKeys: string[];
  /** Lower-cased clinic ids this receiver serves. */
  clinicIds: Set<string>;
}

const webhookSchema = () =>
  z
    .object({
      /** Comma-separated: during a key rotation the old and the new key are both accepted. */
      NOVAMED_WEBHOOK_SECRET: commaList(z.string(), "holds no key"),
      NOVAMED_CLINIC_IDS: commaList(z.guid({ error: "holds an entry that is not a UUID" }), "holds no clinic id"),
    })
    .transform(
      (vars): WebhookConfig => ({
        apiKeys: vars.NOVAMED_WEBHOOK_SECRET,
        clinicIds: new Set(vars.NOVAMED_CLINIC_IDS.map((id) => id.toLowerCase())),
      }),
    );

/** The edge's configuration; throws a ConfigError naming the first bad variable. */
export const readWebhookConfig = settingsReader(webhookSchema);
