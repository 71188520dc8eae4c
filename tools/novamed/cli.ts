/**
 * `npm run novamed -- <command> [flags]`: register or delete this receiver's webhook with NovaMed.
 * See `--help` or README "Registering with NovaMed".
 */
import { parseInvocation, UsageError } from "./args.ts";
import { callNovaMed } from "./client.ts";
import { helpText } from "./help.ts";
import { EXIT, scrubSecret, toOutcome } from "./outcome.ts";

/** Where output goes; tests pass collectors, the real entry point passes the process streams. */
export interface Io {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
}

/**
 * Runs the CLI and resolves with its exit code (see `EXIT` in outcome.ts). Never throws and never
 * prints a stack trace or the API key; every failure is one line on stderr.
 */
export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: Io,
): Promise<number> {
  try {
    return await run(argv, env, io);
  } catch (error) {
    let message = (error instanceof Error ? error.message : String(error)).split("\n")[0]!;
    for (const secret of apiKeysIn(argv, env)) message = scrubSecret(message, secret);
    io.stderr(`novamed: internal error: ${message}`);
    return EXIT.internal;
  }
}

/** Every API key the user gave us, so even an unexpected error message cannot leak one. */
function apiKeysIn(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): string[] {
  const keys = [env.NOVAMED_API_KEY];
  argv.forEach((arg, index) => {
    if (arg === "--api-key") keys.push(argv[index + 1]);
    else if (arg.startsWith("--api-key=")) keys.push(arg.slice("--api-key=".length));
  });
  return keys.filter((key): key is string => typeof key === "string" && key.trim() !== "");
}

async function run(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: Io,
): Promise<number> {
  let invocation;
  try {
    invocation = parseInvocation(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const helpHint = error.command ? `npm run novamed -- ${error.command} --help` : "npm run novamed -- --help";
    io.stderr(`novamed: ${error.message} (see \`${helpHint}\`)`);
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
  process.exitCode = await main(process.argv.slice(2), process.env, {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
  });
}
