/**
 * `npm run novamed -- <command> [flags]`: register or delete this receiver's webhook with NovaMed.
 * See `--help` or docs/tools.md.
 */
import {
  type CliEnv,
  type CliOutput,
  firstLine,
  internalErrorLine,
  runAsEntryPoint,
  UsageError,
  usageErrorLine,
} from "../cli-kit.ts";
import { type Invocation, needsApiKey, parseInvocation } from "./args.ts";
import { callNovaMed } from "./client.ts";
import { helpText } from "./help.ts";
import { EXIT, scrubSecret, toOutcome } from "./outcome.ts";
import { promptHidden } from "./prompt.ts";

/** Where output goes; tests pass collectors, the real entry point passes the process streams. */
export interface Io extends CliOutput {
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Asks for a secret without echoing it; null when there is no terminal to ask on. */
  promptSecret?: (question: string) => Promise<string | null>;
}

/**
 * Runs the CLI and resolves with its exit code (see `EXIT` in outcome.ts). Never throws and never
 * prints a stack trace or the API key; every failure is one line on stderr.
 */
export async function main(argv: readonly string[], env: CliEnv, io: Io): Promise<number> {
  try {
    return await run(argv, env, io);
  } catch (error) {
    // An unexpected message may quote the request it failed on; no API key may reach the terminal.
    const scrubbed = apiKeysIn(argv, env).reduce((line, key) => scrubSecret(line, key), firstLine(error));
    io.stderr(internalErrorLine("novamed", scrubbed));
    return EXIT.internal;
  }
}

/** Every API key the user gave us, so even an unexpected error message cannot leak one. */
function apiKeysIn(argv: readonly string[], env: CliEnv): string[] {
  const keys = [env.NOVAMED_API_KEY];
  argv.forEach((arg, index) => {
    if (arg === "--api-key") keys.push(argv[index + 1]);
    else if (arg.startsWith("--api-key=")) keys.push(arg.slice("--api-key=".length));
  });
  return keys.filter((key): key is string => typeof key === "string" && key.trim() !== "");
}

async function run(argv: readonly string[], givenEnv: CliEnv, io: Io): Promise<number> {
  let env = givenEnv;
  if (io.promptSecret && needsApiKey(argv, env)) {
    const key = await io.promptSecret("NovaMed API key (not shown): ");
    if (key?.trim()) env = { ...env, NOVAMED_API_KEY: key.trim() };
  }
  let invocation: Invocation;
  try {
    invocation = parseInvocation(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(usageErrorLine("novamed", error));
    return EXIT.usage;
  }

  if (invocation.kind === "help") {
    io.stdout(helpText(invocation.command).trimEnd());
    return EXIT.ok;
  }

  for (const warning of invocation.warnings) io.stderr(`novamed: warning: ${warning}`);

  const { connection } = invocation;
  const body =
    invocation.kind === "register"
      ? { clinic_id: connection.clinicId, webhook_url: invocation.webhookUrl }
      : { clinic_id: connection.clinicId, webhook_id: invocation.webhookId };
  const result = await callNovaMed({
    baseUrl: connection.baseUrl,
    method: invocation.kind === "register" ? "POST" : "DELETE",
    apiKey: connection.apiKey,
    body,
    timeoutMs: connection.timeoutMs,
    fetch: io.fetch,
  });

  const subject = invocation.kind === "register" ? invocation.webhookUrl : invocation.webhookId;
  const outcome = toOutcome(result, { command: invocation.kind, connection, subject });
  for (const line of outcome.stdout) io.stdout(line);
  io.stderr(outcome.exitCode === EXIT.ok ? outcome.message : `novamed: ${outcome.message}`);
  return outcome.exitCode;
}

if (import.meta.main) {
  await runAsEntryPoint((argv, env, output) =>
    main(argv, env, { ...output, promptSecret: (question) => promptHidden(question) }),
  );
}
