import { z } from "zod";
import { commaList, optionalText, reportMissing, settingsReader } from "./read";
import { secretKeyProblem } from "./secret-rules";

/** What the webhook edge needs: the accepted API keys and the clinics this receiver serves. */
export interface WebhookConfig {
  /** Every accepted `x-api-key` that opens every allowed clinic; more than one during a key rotation. */
  apiKeys: string[];
  /** Keys that open one clinic only (`NOVAMED_WEBHOOK_KEYS`), by lower-cased clinic id. */
  clinicKeys: Map<string, string[]>;
  /** Lower-cased clinic ids this receiver serves. */
  clinicIds: Set<string>;
}

/** One webhook key; the issue says which entry (by position), never the key. */
const webhookKey = () =>
  z.string().superRefine((key, context) => {
    const problem = secretKeyProblem(key);
    if (problem) context.addIssue({ code: "custom", message: `holds a key that ${problem}` });
  });

/**
 * `NOVAMED_WEBHOOK_KEYS`: JSON `{"<clinic uuid>": ["<key>", "<next key>"]}` (a list, so a clinic's
 * key rotates like the shared one). Unset or blank: no per-clinic key. Issues never quote a key.
 */
const clinicKeyMap = () =>
  optionalText().transform((raw, context) => {
    const keys = new Map<string, string[]>();
    if (raw === null) return keys;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      context.addIssue({ code: "custom", message: 'is not JSON like {"<clinic uuid>": ["<key>"]}' });
      return z.NEVER;
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      context.addIssue({ code: "custom", message: 'must be a JSON object like {"<clinic uuid>": ["<key>"]}' });
      return z.NEVER;
    }
    for (const [clinicId, list] of Object.entries(parsed)) {
      if (!z.guid().safeParse(clinicId).success) {
        context.addIssue({ code: "custom", message: "has an entry whose name is not a clinic UUID" });
        return z.NEVER;
      }
      const entries = typeof list === "string" ? [list] : list;
      if (!Array.isArray(entries) || entries.length === 0 || !entries.every((key) => typeof key === "string")) {
        context.addIssue({ code: "custom", message: "must map each clinic to a non-empty list of keys" });
        return z.NEVER;
      }
      // Every key meets the same rule as any webhook key (src/config/secret-rules.ts).
      for (const key of entries) {
        const problem = secretKeyProblem(key);
        if (problem) {
          context.addIssue({ code: "custom", message: `holds a key that ${problem}` });
          return z.NEVER;
        }
      }
      const id = clinicId.toLowerCase();
      keys.set(id, [...(keys.get(id) ?? []), ...entries]);
    }
    return keys;
  });

const webhookSchema = () =>
  z
    .object({
      /**
       * Comma-separated: during a key rotation the old and the new key are both accepted. Every key
       * must meet the key rule; one weak key refuses them all, since it alone would open the edge.
       * Optional when NOVAMED_WEBHOOK_KEYS holds per-clinic keys (checked below).
       */
      NOVAMED_WEBHOOK_SECRET: optionalText().pipe(
        z.preprocess(
          (value) =>
            String(value ?? "")
              .split(",")
              .map((part) => part.trim())
              .filter((part) => part.length > 0),
          z.array(webhookKey()),
        ),
      ),
      NOVAMED_WEBHOOK_KEYS: clinicKeyMap(),
      NOVAMED_CLINIC_IDS: commaList(z.guid({ error: "holds an entry that is not a UUID" }), "holds no clinic id"),
    })
    .superRefine((vars, context) => {
      // Either secret may be set, or both during a migration; with neither, nothing is accepted.
      if (vars.NOVAMED_WEBHOOK_SECRET.length === 0 && vars.NOVAMED_WEBHOOK_KEYS.size === 0)
        reportMissing(context, "NOVAMED_WEBHOOK_SECRET", "holds no key (set it, or NOVAMED_WEBHOOK_KEYS)");
      const allowed = new Set(vars.NOVAMED_CLINIC_IDS.map((id) => id.toLowerCase()));
      if ([...vars.NOVAMED_WEBHOOK_KEYS.keys()].some((id) => !allowed.has(id)))
        reportMissing(context, "NOVAMED_WEBHOOK_KEYS", "names a clinic that is not in NOVAMED_CLINIC_IDS");
    })
    .transform(
      (vars): WebhookConfig => ({
        apiKeys: vars.NOVAMED_WEBHOOK_SECRET,
        clinicKeys: vars.NOVAMED_WEBHOOK_KEYS,
        clinicIds: new Set(vars.NOVAMED_CLINIC_IDS.map((id) => id.toLowerCase())),
      }),
    );

/** The edge's configuration; throws a ConfigError naming the first bad variable. */
export const readWebhookConfig = settingsReader(webhookSchema);

/**
 * The allowed clinics no per-clinic key opens, when `NOVAMED_WEBHOOK_KEYS` is in use: each is opened
 * by `NOVAMED_WEBHOOK_SECRET` alone, or by nothing when that is unset (its events then get 401).
 */
export function clinicsWithoutKey(config: WebhookConfig): { clinicId: string; sharedKeyOnly: boolean }[] {
  if (config.clinicKeys.size === 0) return [];
  return [...config.clinicIds]
    .filter((clinicId) => !config.clinicKeys.has(clinicId))
    .map((clinicId) => ({ clinicId, sharedKeyOnly: config.apiKeys.length > 0 }));
}
