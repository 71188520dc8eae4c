import { readAdminIdentity } from "./admin";
import { readArchiveSettings } from "./archive";
import { readNotificationRules, readNotificationSettings, readTwilioWebhookSettings } from "./notifications";
import { readEmailProvider, readSmsProvider } from "./providers";
import { tryRead } from "./read";
import {
  readAuditRetentionDays,
  readChangeFeedDays,
  readEventRowRetentionDays,
  readPayloadRetentionDays,
} from "./retention";
import { readWatchSettings } from "./watch";
import { readWebhookConfig } from "./webhook";

/** One configuration problem: the variable to fix and what is wrong with it, never its value. */
export interface ConfigProblem {
  variable: string;
  problem: string;
}

/** Every settings reader of src/config/; each reports the first problem of its own variables. */
const READERS: readonly ((env: Env) => unknown)[] = [
  readWebhookConfig,
  readAdminIdentity,
  readNotificationRules,
  readNotificationSettings,
  readSmsProvider,
  readEmailProvider,
  readTwilioWebhookSettings,
  readPayloadRetentionDays,
  readAuditRetentionDays,
  readEventRowRetentionDays,
  readChangeFeedDays,
  readArchiveSettings,
  readWatchSettings,
];

/**
 * Runs every settings reader and returns one entry per failing variable (a variable two readers
 * share is reported once). Empty when the configuration is sound. Never includes a value.
 */
export function configProblems(env: Env): ConfigProblem[] {
  const problems = new Map<string, ConfigProblem>();
  for (const read of READERS) {
    const { problem: error } = tryRead(read, env);
    if (error) {
      const problem = error.message.slice(error.variable.length).trim();
      if (!problems.has(error.variable)) problems.set(error.variable, { variable: error.variable, problem });
    }
  }
  return [...problems.values()];
}
