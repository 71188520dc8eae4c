/**
 * What both command-line tools (`npm run novamed`, `npm run simulate`) share: the usage-error type,
 * the one-line rendering of errors, and the entry point that turns `main` into an exit code. Each
 * tool keeps its own flags, help and exit-code table; this module only keeps them consistent.
 */

/** The environment as a tool reads it: `process.env` in the entry point, a literal in tests. */
export type CliEnv = Readonly<Record<string, string | undefined>>;

/** Where a tool prints; tests pass collectors, the entry point passes the process streams. */
export interface CliOutput {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

/** A tool's testable entry: arguments, environment and output in, exit code out; never throws. */
export type CliMain<Io extends CliOutput> = (argv: readonly string[], env: CliEnv, io: Io) => Promise<number>;

/** The exit code every tool uses for a usage error, so scripts can tell "fix your flags" apart. */
export const EXIT_USAGE = 2;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` is a UUID in its canonical 8-4-4-4-12 hex form (NovaMed's clinic ids). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Hosts a plain `http://` URL may name: this machine only (an API key would cross no network). */
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Whether `url` points at this machine (localhost, 127.0.0.1 or ::1). */
export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname.toLowerCase());
}

/**
 * Why `url` may not carry a key, or null: `https:` anywhere, plain `http:` only to this machine,
 * since a key sent over plain HTTP to another host can be read on the way. `what` names the flag.
 */
export function insecureUrlProblem(url: URL, what: string): string | null {
  if (url.protocol === "https:") return null;
  if (url.protocol !== "http:") return `${what} must be an http(s) URL`;
  if (isLoopbackUrl(url)) return null;
  return `${what} must use https:// (plain http:// only to localhost, 127.0.0.1 or ::1): the key would cross the network readable`;
}

/**
 * A mistake in the command line or environment that the user has to fix; nothing was sent.
 * `command` names the subcommand whose help the message should point at, when there is one.
 */
export class UsageError extends Error {
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** The first line of an error's message: a tool prints one line per failure, never a stack trace. */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n", 1)[0] ?? "";
}

/**
 * A `node:util` `parseArgs` failure as a usage error. Its messages go on with advice about
 * positionals (`To specify a positional argument starting with a '-'…`) that does not apply to our
 * tools, so only the first sentence is kept, without its full stop.
 */
export function usageErrorFromParseArgs(error: unknown, command?: string): UsageError {
  const sentence = firstLine(error).split(". ", 1)[0] ?? "";
  return new UsageError(sentence.replace(/\.$/, ""), command);
}

/** The line printed for a usage error: the message and where the help is (`npm run <tool> -- … --help`). */
export function usageErrorLine(tool: string, error: UsageError): string {
  const helpCommand = error.command ? `npm run ${tool} -- ${error.command} --help` : `npm run ${tool} -- --help`;
  return `${tool}: ${error.message} (see \`${helpCommand}\`)`;
}

/** The line printed for a failure the tool did not expect: one line, prefixed, no stack trace. */
export function internalErrorLine(tool: string, error: unknown): string {
  return `${tool}: internal error: ${firstLine(error)}`;
}

/** The process's own streams, one line per call. */
export const processOutput: CliOutput = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Runs a tool's `main` as the process's entry point: the real arguments, environment and streams,
 * and its result as the exit code. `process.exitCode` rather than `process.exit()` lets pending
 * output flush before Node exits.
 */
export async function runAsEntryPoint(main: CliMain<CliOutput>): Promise<void> {
  process.exitCode = await main(process.argv.slice(2), process.env, processOutput);
}
