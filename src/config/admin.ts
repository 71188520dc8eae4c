import { z } from "zod";
import { type AccessSettings, readAccessSettings } from "./access";
import { ConfigError, optionalText, settingsReader, withDefault } from "./read";
import { secretKeyProblem } from "./secret-rules";

/** Who may use the admin API and the console, and how they prove it. */
export interface AdminIdentitySettings {
  /** The bearer token for scripts and local use; null when only Access is configured. */
  token: string | null;
  /** The actor recorded for requests made with the token, e.g. `token:ops`. */
  tokenActor: string;
  access: AccessSettings | null;
}

const tokenSchema = () =>
  z.object({
    ADMIN_TOKEN: optionalText().superRefine((token, context) => {
      const problem = token === null ? null : secretKeyProblem(token);
      if (problem) context.addIssue({ code: "custom", message: problem });
    }),
    ADMIN_TOKEN_ACTOR: withDefault(
      "token:admin",
      z.string().regex(/^token:[a-z0-9][a-z0-9._-]{0,39}$/, { error: "must look like token:ops" }),
    ),
  });

const readTokenSettings = settingsReader(tokenSchema);
const cache = new WeakMap<object, AdminIdentitySettings>();

/**
 * The admin identity settings. Throws a ConfigError naming `ADMIN_TOKEN` when it is weak or published,
 * or when neither the token nor Access is configured (nobody could sign in), and naming the Access
 * variable that is missing when only one of the two is set.
 */
export function readAdminIdentity(env: Env): AdminIdentitySettings {
  const cached = cache.get(env);
  if (cached) return cached;
  const { ADMIN_TOKEN: token, ADMIN_TOKEN_ACTOR: tokenActor } = readTokenSettings(env);
  const access = readAccessSettings(env);
  if (token === null && access === null) {
    throw new ConfigError("ADMIN_TOKEN", "is not set (set it, or ACCESS_TEAM_DOMAIN and ACCESS_AUD)");
  }
  const settings = { token, tokenActor, access };
  cache.set(env, settings);
  return settings;
}

const consoleSessionSchema = () =>
  z
    .object({
      /** Minutes a console session may sit unused before it ends (besides its 8-hour life). */
      CONSOLE_IDLE_TIMEOUT_MINUTES: withDefault(
        "30",
        z
          .string()
          .transform(Number)
          .refine((minutes) => Number.isInteger(minutes) && minutes >= 1 && minutes <= 480, {
            error: "is not a whole number of minutes from 1 to 480",
          }),
      ),
    })
    .transform((vars) => ({ idleTimeoutMs: vars.CONSOLE_IDLE_TIMEOUT_MINUTES * 60_000 }));

/** The console sessions' idle timeout; throws a ConfigError naming a malformed variable. */
export const readConsoleSessionSettings = settingsReader(consoleSessionSchema);
