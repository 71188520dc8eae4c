import { env } from "cloudflare:workers";
import { ConfigError } from "../../src/config/read";

/** A fresh `env` object (the readers cache per object) with some variables replaced. */
export const envWith = (overrides: Record<string, string | undefined>) => ({ ...env, ...overrides }) as Env;

/** The ConfigError `read` throws, or a failure when it throws nothing or something else. */
export function configError(read: () => unknown): ConfigError {
  try {
    read();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}
