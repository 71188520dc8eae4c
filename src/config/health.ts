import { readAdminToken } from "./admin";
import { readFaultRate } from "./faults";
import { readNotificationSettings, readTwilioWebhookSettings } from "./notifications";
import { ConfigError } from "./read";
import { readRetentionSettings } from "./retention";
import { readWatchSettings } from "./watch";
import { readWebhookConfig } from "./webhook";

/** One misconfigured variable: its name and what is wrong, never its value. */
export interface ConfigProblem {
  variable: string;
  problem: string;
}

/** Every settings reader of src/config/, so a health check covers each concern. */
const READERS: readonly ((env: Env) => unknown)[] = [
  readWebhookConfig,
  readAdminToken,
  readNotificationSettings,
  readTwilioWebhookSettings,
  readRetentionSettings,
  readFaultRate,
  readWatchSettings,
];

/**
 * The configuration problems of `env`, one per failing variable: runs every settings reader and
 * collects the ConfigErrors they throw (each names its variable and the reason, never the value).
 */
export function configProblems(env: Env): ConfigProblem[] {
  const problems = new Map<string, string>();
  for (const read of READERS) {
    try {
      read(env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      if (!problems.has(error.variable)) problems.set(error.variable, error.message);
    }
  }
  return [...problems].map(([variable, problem]) => ({ variable, problem }));
}
