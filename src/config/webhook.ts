import { z } from "zod";
import { commaList, settingsReader } from "./read";
import { secretKeyProblem } from "./secret-rules";

/** What the webhook edge needs: the accepted API keys and the clinics this receiver serves. */
export interface WebhookConfig {
  /** Every accepted `x-api-key`; more than one during a key rotation. */
  apiKeys: string[];
  /** Lower-cased clinic ids this receiver serves. */
  clinicIds: Set<string>;
}

/** One webhook key; the issue says which entry (by position), never the key. */
const webhookKey = () =>
  z.string().superRefine((key, context) => {
    const problem = secretKeyProblem(key);
    if (problem) context.addIssue({ code: "custom", message: `holds a key that ${problem}` });
  });

const webhookSchema = () =>
  z
    .object({
      /**
       * Comma-separated: during a key rotation the old and the new key are both accepted. Every key
       * must meet the key rule; one weak key refuses them all, since it alone would open the edge.
       */
      NOVAMED_WEBHOOK_SECRET: commaList(webhookKey(), "holds no key"),
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
