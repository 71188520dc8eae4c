import { z } from "zod";
import { lazy } from "../lazy";

/**
 * How every configuration reader works: one zod schema per concern, built on first use, validates
 * the Worker's `env` once per `env` object (so once per isolate in production) and caches the typed
 * result. A missing
 * or malformed variable fails loudly with the variable's name, never its value, instead of letting
 * the receiver run half-configured. Every default lives in the schema that reads the variable;
 * `wrangler.toml` and `.dev.vars.example` only declare the names (empty means "the default").
 */

/** Thrown when a variable is missing or malformed; names the variable, never its value. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable} ${reason}`);
    this.name = "ConfigError";
  }
}

/** A read that does not throw for configuration: the settings, or the problem naming the variable to fix. */
export type SettingsRead<T> = { settings: T; problem?: undefined } | { settings?: undefined; problem: ConfigError };

/**
 * Reads settings with `read`, answering a {@link ConfigError} as the `problem` instead of throwing
 * it, for the callers that carry on without those settings (hold a channel, show UTC, report it);
 * any other error is thrown.
 */
export function tryRead<T>(read: (env: Env) => T, env: Env): SettingsRead<T> {
  try {
    return { settings: read(env) };
  } catch (error) {
    if (error instanceof ConfigError) return { problem: error };
    throw error;
  }
}

/** A settings reader: throws a {@link ConfigError} on a bad variable, or `tryRead` answers it. */
export interface SettingsReader<T> {
  (env: Env): T;
  tryRead(env: Env): SettingsRead<T>;
}

/**
 * A cached reader for one concern: the schema `buildSchema` returns (built on the first read, not at
 * startup) parses `env` (its output is the typed settings), and a failure becomes a
 * {@link ConfigError} naming the variable of the first issue.
 */
export function settingsReader<S extends z.ZodType>(buildSchema: () => S): SettingsReader<z.output<S>> {
  const schema = lazy(buildSchema);
  const cache = new WeakMap<object, z.output<S>>();
  const read = (env: Env): z.output<S> => {
    const cached = cache.get(env);
    if (cached !== undefined) return cached;
    const parsed = schema().safeParse(env);
    if (!parsed.success) throw toConfigError(parsed.error);
    cache.set(env, parsed.data);
    return parsed.data;
  };
  return Object.assign(read, { tryRead: (env: Env) => tryRead(read, env) });
}

function toConfigError(error: z.ZodError): ConfigError {
  const issue = error.issues[0];
  const variable = String(issue?.path[0] ?? "configuration");
  return new ConfigError(variable, issue?.message ?? "is invalid");
}

/**
 * A variable whose value is text; unset and blank both read as null (the caller's default or "off").
 * Like every schema fragment here, a function: schemas are built when a reader first runs.
 */
export const optionalText = () =>
  z
    .string({ error: "must be text" })
    .optional()
    .transform((value) => {
      const trimmed = value?.trim() ?? "";
      return trimmed === "" ? null : trimmed;
    });

/** A variable that must hold text. */
export const requiredText = () => z.string({ error: "is not set" }).trim().min(1, { error: "is not set" });

/** A variable with a default: unset or blank reads as `fallback`, then goes through `schema`. */
export function withDefault<T>(fallback: string, schema: z.ZodType<T, string>) {
  return optionalText()
    .transform((value) => value ?? fallback)
    .pipe(schema);
}

/** A required comma-separated variable: trimmed, non-empty entries, each checked by `entry`, at least one. */
export function commaList<T>(entry: z.ZodType<T, string>, noEntries: string) {
  return requiredText()
    .transform((value) =>
      value
        .split(",")
        .map((part) => part.trim())
        .filter((part) => part.length > 0),
    )
    .pipe(z.array(entry).min(1, { error: noEntries }));
}

/**
 * Reports `variable` as the culprit of a check across variables (e.g. a Twilio account without its
 * token), so the {@link ConfigError} names the variable to set.
 */
export function reportMissing(context: z.RefinementCtx, variable: string, reason: string): void {
  context.addIssue({ code: "custom", path: [variable], message: reason });
}
