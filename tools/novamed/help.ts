import { BASE_URLS, type CommandName, DEFAULT_TIMEOUT_SECONDS } from "./args.ts";

/** `--help` texts. Kept beside each other so the exit-code table cannot drift between commands. */

const CONNECTION_FLAGS = `Connection flags (each falls back to an environment variable):
  --api-key <key>        NovaMed API key (prefer the variable,  NOVAMED_API_KEY
                           or the hidden prompt: a flag is seen
                           by other users of the machine)
  --clinic-id <uuid>     your clinic's id (a UUID)              NOVAMED_CLINIC_ID
  --env <name>           development (default) or production    NOVAMED_ENV
                           development = ${BASE_URLS.development}
                           production  = ${BASE_URLS.production}
  --base-url <url>       another API host; overrides --env      NOVAMED_API_BASE_URL
  --timeout <seconds>    give up waiting for NovaMed (default ${DEFAULT_TIMEOUT_SECONDS})
  --json                 print NovaMed's JSON answer as-is on stdout
  -h, --help             show this help
Flags win over environment variables, and a base URL wins over an environment name.`;

const EXIT_CODES = `Exit codes:
  0  done
  1  internal error in this tool
  2  usage error (unknown command or flag, missing or invalid value, non-https --url); NovaMed not called
  3  NovaMed rejected the API key (401)
  4  NovaMed rejected the request (other 4xx: 400, 403, 404, 409, 422, 429, ...)
  5  NovaMed server error (5xx); try again later
  6  no answer within --timeout
  7  NovaMed unreachable (DNS, connection refused, TLS)
  8  unexpected answer (not JSON, a redirect, or no webhook_id)
  9  NovaMed answered "success": false`;

const TOOL = `Manage your NovaMed webhook registration.

Usage: npm run novamed -- <command> [flags]

Commands:
  register --url <https-url>   register your receiver's URL; prints the webhook_id
  delete --webhook-id <id>     delete a registered webhook

Run \`npm run novamed -- <command> --help\` for a command's flags.

${CONNECTION_FLAGS}

${EXIT_CODES}
`;

const REGISTER = `Register your receiver's URL with NovaMed (POST /api/external/webhook).

Usage: npm run novamed -- register --url <https-url> [flags]

  --url <https-url>      where NovaMed sends events, e.g. https://<your-worker>/webhooks/novamed.
                         Must be https: NovaMed does not send webhooks to HTTP endpoints.

On success stdout has the webhook_id alone (keep it for delete) and stderr a one-line summary.
Example:
  npm run -s novamed -- register --url https://receiver.example.com/webhooks/novamed

${CONNECTION_FLAGS}

${EXIT_CODES}
`;

const DELETE = `Delete a registered webhook (DELETE /api/external/webhook).

Usage: npm run novamed -- delete --webhook-id <id> [flags]

  --webhook-id <id>      the webhook_id that register printed

Example:
  npm run novamed -- delete --webhook-id 660e8400-e29b-41d4-a716-446655440001

${CONNECTION_FLAGS}

${EXIT_CODES}
`;

/** The help text for the tool (no command) or for one command. */
export function helpText(command: CommandName | undefined): string {
  if (command === "register") return REGISTER;
  if (command === "delete") return DELETE;
  return TOOL;
}
