import { z } from "zod";

/**
 * Configuration read from the Worker's `env` once per isolate and validated with zod, so a missing
 * or malformed secret fails loudly with the variable's name (never its value) instead of letting the
 * receiver accept events it cannot authenticate or route.
 */

/** Thrown when a required variable is missing or malformed; names the variable, never its value. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable} ${reason}`);
    this.name = "ConfigError";
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Splits a comma-separated variable into trimmed, non-empty entries. */
function splitList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

const webhookSchema = z.object({
  NOVAMED_WEBHOOK_SECRET: z
    .string({ error: "is not set" })
    .transform(splitList)
    .pipe(z.array(z.string()).min(1, { error: "holds no key" })),
  NOVAMED_CLINIC_IDS: z
    .string({ error: "is not set" })
    .transform(splitList)
    .pipe(
      z
        .array(z.string().regex(GUID, { error: "holds an entry that is not a UUID" }))
        .min(1, { error: "holds no clinic id" }),
    ),
});

export interface WebhookConfig {
  /** Every accepted `x-api-key`; more than one during a key rotation. */
  apiKeys: string[];
  /** Lower-cased clinic ids this receiver serves. */
  clinicIds: Set<string>;
}

const webhookConfigCache = new WeakMap<object, WebhookConfig>();

/** The edge's configuration; throws {@link ConfigError} naming the first bad variable. */
export function readWebhookConfig(env: Env): WebhookConfig {
  const cached = webhookConfigCache.get(env);
  if (cached) return cached;
  const parsed = webhookSchema.safeParse(env);
  if (!parsed.success) throw toConfigError(parsed.error);
  const config: WebhookConfig = {
    apiKeys: parsed.data.NOVAMED_WEBHOOK_SECRET,
    clinicIds: new Set(parsed.data.NOVAMED_CLINIC_IDS.map((id) => id.toLowerCase())),
  };
  webhookConfigCache.set(env, config);
  return config;
}

/** The admin API's bearer token; throws {@link ConfigError} when it is missing or empty. */
export function readAdminToken(env: Env): string {
  const token = typeof env.ADMIN_TOKEN === "string" ? env.ADMIN_TOKEN.trim() : "";
  if (token.length === 0) throw new ConfigError("ADMIN_TOKEN", "is not set");
  return token;
}

/** A non-negative integer variable with a default, e.g. `PAYLOAD_RETENTION_DAYS`. */
export function readInteger(env: Env, name: keyof Env & string, fallback: number): number {
  const raw = (env as unknown as Record<string, unknown>)[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new ConfigError(name, "is not a non-negative integer");
  }
  return value;
}

const faultRateCache = new WeakMap<object, number>();

/**
 * `FAULT_INJECTION_RATE`, a probability in [0, 1] used only by the reliability benchmark; 0 (off) when
 * unset. Never set it in production.
 */
export function readFaultRate(env: Env): number {
  const cached = faultRateCache.get(env);
  if (cached !== undefined) return cached;
  const raw = (env as unknown as Record<string, unknown>).FAULT_INJECTION_RATE;
  const rate = raw === undefined || raw === "" ? 0 : Number(raw);
  if (!Number.isFinite(rate) || rate < 0 || rate > 1)
    throw new ConfigError("FAULT_INJECTION_RATE", "is not a number between 0 and 1");
  faultRateCache.set(env, rate);
  return rate;
}

function toConfigError(error: z.ZodError): ConfigError {
  const issue = error.issues[0];
  const variable = String(issue?.path[0] ?? "configuration");
  return new ConfigError(variable, issue?.message ?? "is invalid");
}
