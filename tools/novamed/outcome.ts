import { EXIT_USAGE } from "../cli-kit.ts";
import type { CommandName, Connection } from "./args.ts";
import type { NovaMedResult } from "./client.ts";

/**
 * Exit codes of `npm run novamed`. Each failure has its own code so scripts can tell "fix your key"
 * from "try again later"; docs/tools.md lists the same table.
 */
export const EXIT = {
  ok: 0,
  /** A bug in this tool (never expected); the message still fits on one line. */
  internal: 1,
  /** Bad command line or environment, including a non-https webhook URL. NovaMed was not called. */
  usage: EXIT_USAGE,
  /** 401: NovaMed rejected the API key. */
  unauthorized: 3,
  /** Any other 4xx (400, 403, 404, 409, 422, 429, ...): NovaMed refused this request. */
  rejected: 4,
  /** 5xx: NovaMed failed; retrying later may work. */
  serverError: 5,
  /** No answer within --timeout. */
  timeout: 6,
  /** No connection to the host (DNS, refused, TLS). */
  unreachable: 7,
  /** An answer that is not NovaMed's JSON (HTML error page, redirect, missing webhook_id). */
  unexpectedAnswer: 8,
  /** A 2xx answer with "success": false. */
  unsuccessful: 9,
} as const;

/** What the CLI does with a NovaMed result: an exit code, a line for stderr, and stdout lines. */
export interface Outcome {
  exitCode: number;
  /** One line for stderr: the error on failure, the human summary on success. */
  message: string;
  /** Machine-readable lines for stdout (the webhook id, or NovaMed's JSON with --json). */
  stdout: string[];
}

interface Context {
  command: CommandName;
  connection: Connection;
  /** The webhook URL (register) or webhook id (delete), for the summary line. */
  subject: string;
}

/**
 * Classifies a NovaMed result into the CLI's outcome. Messages say what to do next, fit on one line,
 * and never contain the API key (even if NovaMed echoed it back).
 */
export function toOutcome(result: NovaMedResult, context: Context): Outcome {
  const outcome = classify(result, context);
  const scrub = (line: string) => scrubSecret(line, context.connection.apiKey);
  return { ...outcome, message: scrub(outcome.message), stdout: outcome.stdout.map(scrub) };
}

function classify(result: NovaMedResult, { command, connection, subject }: Context): Outcome {
  const where = describeTarget(connection);
  if (result.kind === "timeout") {
    return fail(
      EXIT.timeout,
      `NovaMed ${where} did not answer within ${connection.timeoutMs / 1000} s; try again, or raise --timeout`,
    );
  }
  if (result.kind === "unreachable") {
    return fail(
      EXIT.unreachable,
      `cannot reach NovaMed ${where}: ${result.reason}; check --env/--base-url and your network`,
    );
  }

  const { status, json } = result;
  // With --json, NovaMed's own answer goes to stdout whatever it says, so scripts can inspect it.
  const raw = connection.json && json !== undefined ? [result.text.trim()] : [];
  const said = novamedMessage(json);
  const because = said ? ` (NovaMed: ${said})` : "";

  if (status === 401) {
    return fail(
      EXIT.unauthorized,
      `NovaMed rejected the API key (401)${because}; check --api-key / NOVAMED_API_KEY for the ${connection.environment} environment`,
      raw,
    );
  }
  if (status >= 300 && status < 400) {
    const to = result.location ? ` to ${result.location}` : "";
    return fail(
      EXIT.unexpectedAnswer,
      `NovaMed ${where} answered with a redirect (${status})${to}; use that host as --base-url`,
      raw,
    );
  }
  if (status >= 400 && status < 500) return fail(EXIT.rejected, rejectedMessage(status, command, because), raw);
  if (status >= 500) {
    return fail(
      EXIT.serverError,
      `NovaMed had an error (${status})${because}; nothing to fix on your side, try again in a few minutes`,
      raw,
    );
  }
  if (json === undefined || typeof json !== "object" || json === null) {
    const type = result.contentType ? `, ${result.contentType.split(";")[0]}` : "";
    return fail(
      EXIT.unexpectedAnswer,
      `NovaMed ${where} answered ${status} with something that is not JSON${type}; check that --base-url is NovaMed's API`,
    );
  }
  if ((json as { success?: unknown }).success === false) {
    return fail(
      EXIT.unsuccessful,
      `NovaMed did not ${command} the webhook${because || " and gave no reason"}; check the values and try again`,
      raw,
    );
  }

  if (command === "register") {
    const webhookId = (json as { data?: { webhook_id?: unknown } }).data?.webhook_id;
    if (typeof webhookId !== "string" || webhookId === "") {
      return fail(
        EXIT.unexpectedAnswer,
        `NovaMed answered ${status} without data.webhook_id; run again with --json to see the answer`,
        raw,
      );
    }
    return {
      exitCode: EXIT.ok,
      message: `Registered ${subject} for clinic ${connection.clinicId} on ${where}: webhook_id ${webhookId}`,
      stdout: connection.json ? raw : [webhookId],
    };
  }
  return {
    exitCode: EXIT.ok,
    message: `Deleted webhook ${subject} of clinic ${connection.clinicId} on ${where}`,
    stdout: raw,
  };
}

function rejectedMessage(status: number, command: CommandName, because: string): string {
  switch (status) {
    case 403:
      return `NovaMed refused access (403)${because}; check that the API key belongs to this --clinic-id`;
    case 404:
      return command === "delete"
        ? `NovaMed has no such webhook (404)${because}; check --webhook-id and --clinic-id`
        : `NovaMed answered 404${because}; check --env/--base-url`;
    case 429:
      return `NovaMed is rate limiting (429)${because}; wait a minute and try again`;
    default:
      return `NovaMed rejected the request (${status})${because}; check the values you passed`;
  }
}

/**
 * Replaces a secret in a line of output. Keys shorter than 6 characters are left alone: replacing
 * "k" everywhere would mangle the message, and such a key is not a real NovaMed key anyway.
 */
export function scrubSecret(line: string, secret: string | undefined): string {
  return secret && secret.length >= 6 ? line.split(secret).join("[api key]") : line;
}

function fail(exitCode: number, message: string, stdout: string[] = []): Outcome {
  return { exitCode, message, stdout };
}

/** "development (https://…)" or just the URL for a custom base URL. */
export function describeTarget(connection: Connection): string {
  return connection.environment === "custom" ? connection.baseUrl : `${connection.environment} (${connection.baseUrl})`;
}

/** NovaMed's own explanation, flattened to one short line; undefined when it gave none. */
function novamedMessage(json: unknown): string | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const body = json as { message?: unknown; error?: unknown };
  const candidate =
    typeof body.message === "string"
      ? body.message
      : typeof body.error === "string"
        ? body.error
        : typeof (body.error as { message?: unknown } | undefined)?.message === "string"
          ? (body.error as { message: string }).message
          : undefined;
  if (!candidate) return undefined;
  const line = candidate.replace(/\s+/g, " ").trim();
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}
