import { parseArgs } from "node:util";
import { type CliEnv, insecureUrlProblem, isUuid, UsageError, usageErrorFromParseArgs } from "../cli-kit.ts";

/**
 * Turns `npm run novamed -- <command> [flags]` plus the environment into a checked request, or into
 * a usage error. Nothing here touches the network: every mistake we can see locally is reported
 * before NovaMed is called, so a typo never half-registers a webhook.
 */

/** NovaMed's two documented API hosts (guide: "Base URLs"). */
export const BASE_URLS = {
  development: "https://novamed-feapidev.stackmod.info",
  production: "https://feapi.novamed.care",
} as const;

export type EnvironmentName = keyof typeof BASE_URLS;
export type CommandName = "register" | "delete";

export const COMMANDS: readonly CommandName[] = ["register", "delete"];
export const DEFAULT_TIMEOUT_SECONDS = 15;

/** Where the receiver in this repository accepts events; other paths get a warning, not a refusal. */
export const RECEIVER_PATH = "/webhooks/novamed";

export const API_KEY_FLAG_WARNING =
  "--api-key puts the key in the process list and shell history, visible to other users of this machine; set NOVAMED_API_KEY or let the CLI ask for it";

/**
 * True when a register/delete invocation has no API key from `--api-key` or `NOVAMED_API_KEY`, so
 * the CLI should ask for it (hidden) before parsing.
 */
export function needsApiKey(argv: readonly string[], env: CliEnv): boolean {
  if (fromEnv(env, "NOVAMED_API_KEY")) return false;
  if (argv.some((arg) => arg === "--api-key" || arg.startsWith("--api-key=") || arg === "--help" || arg === "-h")) {
    return false;
  }
  return argv.some(isCommand);
}

/** Flags every command accepts. */
const COMMON_OPTIONS = {
  "api-key": { type: "string" },
  "clinic-id": { type: "string" },
  env: { type: "string" },
  "base-url": { type: "string" },
  json: { type: "boolean" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Flags that belong to one command only. */
const COMMAND_OPTIONS: Record<CommandName, readonly string[]> = {
  register: ["url"],
  delete: ["webhook-id"],
};

const ALL_OPTIONS = {
  ...COMMON_OPTIONS,
  url: { type: "string" },
  "webhook-id": { type: "string" },
} as const;

/** Settings shared by both commands, after flags and environment variables are merged. */
export interface Connection {
  apiKey: string;
  clinicId: string;
  /** `development`, `production`, or `custom` when `--base-url`/`NOVAMED_API_BASE_URL` is used. */
  environment: EnvironmentName | "custom";
  /** No trailing slash. */
  baseUrl: string;
  json: boolean;
  timeoutMs: number;
}

export type Invocation =
  | { kind: "help"; command: CommandName | undefined }
  | { kind: "register"; connection: Connection; webhookUrl: string; warnings: string[] }
  | { kind: "delete"; connection: Connection; webhookId: string; warnings: string[] };

/** An environment variable, with empty values treated as unset (a common `export X=` leftover). */
function fromEnv(env: CliEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function isCommand(value: string | undefined): value is CommandName {
  return value !== undefined && (COMMANDS as readonly string[]).includes(value);
}

function parseFlags(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: ALL_OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageErrorFromParseArgs(error, argv.find(isCommand));
  }
}

/**
 * Parses the arguments after `npm run novamed --` and the environment into an {@link Invocation}.
 * Flags win over environment variables; `--base-url` wins over `--env`.
 * @throws {UsageError} for anything the user has to fix before NovaMed can be called.
 */
export function parseInvocation(argv: readonly string[], env: CliEnv): Invocation {
  const { values, positionals } = parseFlags(argv);

  // `help` as a command: `npm run novamed -- help register`.
  if (positionals[0] === "help") {
    const topic = positionals[1];
    if (topic !== undefined && !isCommand(topic)) throw new UsageError(`unknown command "${topic}"`);
    return { kind: "help", command: topic };
  }

  const command = positionals[0];
  if (command === undefined) {
    if (values.help) return { kind: "help", command: undefined };
    throw new UsageError("missing command (register or delete)");
  }
  if (!isCommand(command)) throw new UsageError(`unknown command "${command}"`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, command);
  if (values.help) return { kind: "help", command };

  // A flag of the other command is a mistake, not something to ignore silently.
  for (const [other, flags] of Object.entries(COMMAND_OPTIONS)) {
    if (other === command) continue;
    for (const flag of flags) {
      if (flag in values) throw new UsageError(`--${flag} is not a flag of ${command}`, command);
    }
  }

  // A key on the command line sits in the process list and the shell history of a shared machine.
  const keyWarnings = values["api-key"] !== undefined ? [API_KEY_FLAG_WARNING] : [];

  // The command's own value first: it is what the user just typed, and the likeliest mistake.
  if (command === "register") {
    const { webhookUrl, warnings } = checkWebhookUrl(values.url, command);
    const connection = resolveConnection(values, env, command);
    return { kind: "register", connection, webhookUrl, warnings: [...keyWarnings, ...warnings] };
  }
  const webhookId = values["webhook-id"]?.trim();
  if (!webhookId) throw new UsageError("missing --webhook-id (the webhook_id that register printed)", command);
  if (webhookId.length > 200 || /\s/.test(webhookId)) {
    throw new UsageError("--webhook-id must be a single token of at most 200 characters", command);
  }
  return { kind: "delete", connection: resolveConnection(values, env, command), webhookId, warnings: keyWarnings };
}

interface ParsedValues {
  "api-key"?: string;
  "clinic-id"?: string;
  env?: string;
  "base-url"?: string;
  json?: boolean;
  timeout?: string;
}

function resolveConnection(values: ParsedValues, env: CliEnv, command: CommandName): Connection {
  const apiKey = values["api-key"]?.trim() || fromEnv(env, "NOVAMED_API_KEY");
  if (!apiKey) {
    throw new UsageError("missing API key: set NOVAMED_API_KEY (or run in a terminal to be asked for it)", command);
  }

  const clinicId = values["clinic-id"]?.trim() || fromEnv(env, "NOVAMED_CLINIC_ID");
  if (!clinicId) throw new UsageError("missing clinic id: pass --clinic-id or set NOVAMED_CLINIC_ID", command);
  if (!isUuid(clinicId)) {
    throw new UsageError("the clinic id (--clinic-id / NOVAMED_CLINIC_ID) must be a UUID", command);
  }

  const { environment, baseUrl } = resolveBaseUrl(values, env, command);

  let timeoutMs = DEFAULT_TIMEOUT_SECONDS * 1000;
  if (values.timeout !== undefined) {
    const seconds = Number(values.timeout);
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 600) {
      throw new UsageError("--timeout must be a number of seconds above 0 and at most 600", command);
    }
    timeoutMs = Math.round(seconds * 1000);
  }

  return { apiKey, clinicId, environment, baseUrl, json: values.json === true, timeoutMs };
}

/** Explicit flags beat environment variables, and a URL beats an environment name at the same level. */
function resolveBaseUrl(
  values: ParsedValues,
  env: CliEnv,
  command: CommandName,
): { environment: Connection["environment"]; baseUrl: string } {
  const candidates: Array<{ source: string; kind: "url" | "env"; value: string | undefined }> = [
    { source: "--base-url", kind: "url", value: values["base-url"]?.trim() },
    { source: "--env", kind: "env", value: values.env?.trim() },
    { source: "NOVAMED_API_BASE_URL", kind: "url", value: fromEnv(env, "NOVAMED_API_BASE_URL") },
    { source: "NOVAMED_ENV", kind: "env", value: fromEnv(env, "NOVAMED_ENV") },
  ];
  const chosen = candidates.find((candidate) => candidate.value);
  const value = chosen?.value;
  if (!chosen || !value) return { environment: "development", baseUrl: BASE_URLS.development };

  if (chosen.kind === "env") {
    if (value !== "development" && value !== "production") {
      throw new UsageError(`${chosen.source} must be development or production`, command);
    }
    return { environment: value, baseUrl: BASE_URLS[value] };
  }

  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${chosen.source} is not a URL`, command);
  }
  const insecure = insecureUrlProblem(url, chosen.source);
  if (insecure) throw new UsageError(insecure, command);
  if (url.search || url.hash) throw new UsageError(`${chosen.source} must not have a query or fragment`, command);
  const baseUrl = url.href.replace(/\/+$/, "");
  const known = (Object.keys(BASE_URLS) as EnvironmentName[]).find((name) => BASE_URLS[name] === baseUrl);
  return { environment: known ?? "custom", baseUrl };
}

/** NovaMed only delivers to HTTPS (guide: "Use HTTPS Only"), so anything else is refused up front. */
function checkWebhookUrl(raw: string | undefined, command: CommandName): { webhookUrl: string; warnings: string[] } {
  const value = raw?.trim();
  if (!value) throw new UsageError("missing --url (your receiver's https://…/webhooks/novamed)", command);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError("--url is not a URL (expected https://<host>/webhooks/novamed)", command);
  }
  if (url.protocol !== "https:") {
    throw new UsageError(
      "--url must start with https:// because NovaMed does not send webhooks to HTTP endpoints " +
        "(for a laptop, use the https URL that `npm run dev:tunnel` prints)",
      command,
    );
  }
  if (url.username || url.password) throw new UsageError("--url must not contain a user name or password", command);
  const warnings: string[] = [];
  if (url.pathname !== RECEIVER_PATH) {
    warnings.push(`the URL path is ${url.pathname}; this receiver accepts events at ${RECEIVER_PATH}`);
  }
  return { webhookUrl: value, warnings };
}
