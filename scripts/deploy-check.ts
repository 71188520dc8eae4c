// `npm run deploy` runs this first: it refuses to deploy a receiver whose configuration would be
// unsafe, and says what to set. It reads the target Worker's secret *names* (`wrangler secret list`,
// JSON; wrangler never returns values) and the [vars] of wrangler.toml, plus any secret value the
// operator exports locally (for example before `wrangler secret put`), which it can check in full.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  ADMIN_TOKEN_MIN_LENGTH,
  adminTokenProblem,
  PUBLISHED_SECRET_VALUES,
  TEST_ONLY_SECRET_VALUES,
} from "../src/config/secret-rules.ts";

/** Secrets a receiver cannot run without. */
const REQUIRED_SECRETS = ["NOVAMED_WEBHOOK_SECRET", "NOVAMED_CLINIC_IDS"] as const;
/** Secrets whose values, when given locally, must not be ones the repository published. */
const CHECKED_VALUES = ["NOVAMED_WEBHOOK_SECRET", "ADMIN_TOKEN", "TWILIO_AUTH_TOKEN", "RESEND_API_KEY"] as const;
/** Values that must never sit in wrangler.toml, where anyone with the repository reads them. */
const SECRET_ONLY = ["ADMIN_TOKEN", "NOVAMED_WEBHOOK_SECRET", "TWILIO_AUTH_TOKEN", "RESEND_API_KEY"] as const;

export interface DeployConfiguration {
  /** Names of the secrets set on the target Worker. */
  secretNames: readonly string[];
  /** wrangler.toml [vars] (empty strings mean "the default"). */
  vars: Readonly<Record<string, string>>;
  /** Secret values the operator provided locally (environment variables), checked in full. */
  localValues: Readonly<Record<string, string | undefined>>;
}

/** Everything wrong with a configuration, one sentence each naming the variable; empty when safe. */
export function deployProblems({ secretNames, vars, localValues }: DeployConfiguration): string[] {
  const problems: string[] = [];
  const isSet = (name: string) => secretNames.includes(name) || (vars[name] ?? "").trim() !== "";
  for (const name of SECRET_ONLY) {
    if ((vars[name] ?? "").trim() !== "")
      problems.push(`${name} is in wrangler.toml [vars]; remove it and use: npx wrangler secret put ${name}`);
  }
  for (const name of REQUIRED_SECRETS) {
    if (!isSet(name)) problems.push(`${name} is not set: npx wrangler secret put ${name}`);
  }
  const team = isSet("ACCESS_TEAM_DOMAIN");
  const audience = isSet("ACCESS_AUD");
  if (team !== audience) {
    problems.push(
      `${team ? "ACCESS_AUD" : "ACCESS_TEAM_DOMAIN"} is not set: Cloudflare Access needs both ACCESS_TEAM_DOMAIN and ACCESS_AUD, or neither`,
    );
  }
  if (!isSet("ADMIN_TOKEN") && !(team && audience)) {
    problems.push(
      `ADMIN_TOKEN is not set and Cloudflare Access is not configured, so nobody could use /admin or the console: npx wrangler secret put ADMIN_TOKEN (at least ${ADMIN_TOKEN_MIN_LENGTH} characters, e.g. openssl rand -hex 32), or set ACCESS_TEAM_DOMAIN and ACCESS_AUD`,
    );
  }
  problems.push(...providerProblems(vars, isSet));
  const knownValues = [...PUBLISHED_SECRET_VALUES, ...TEST_ONLY_SECRET_VALUES];
  for (const name of CHECKED_VALUES) {
    const value = localValues[name]?.trim();
    if (!value) continue;
    // A comma-separated secret (key rotation) is unsafe when any of its keys is a published one.
    if (value.split(",").some((entry) => knownValues.includes(entry.trim()))) {
      problems.push(
        `${name} (the value in your environment) is a value published in the repository; generate a new one`,
      );
    } else if (name === "ADMIN_TOKEN" && adminTokenProblem(value)) {
      problems.push(`ADMIN_TOKEN (the value in your environment) ${adminTokenProblem(value)}`);
    }
  }
  return problems;
}

/**
 * Each channel's provider is chosen in [vars] (or set as a secret), never assumed: without a choice
 * every message of the channel would be `held`, which a deploy should not discover in production.
 * A chosen provider needs its secrets; `log` is a deliberate choice that sends nothing.
 */
const PROVIDERS = {
  SMS_PROVIDER: {
    choices: ["twilio", "log"],
    needs: {
      twilio: [["TWILIO_ACCOUNT_SID"], ["TWILIO_AUTH_TOKEN"], ["TWILIO_MESSAGING_SERVICE_SID", "TWILIO_FROM_NUMBER"]],
    },
  },
  EMAIL_PROVIDER: { choices: ["resend", "log"], needs: { resend: [["RESEND_API_KEY"], ["EMAIL_FROM"]] } },
} as const;

function providerProblems(vars: Readonly<Record<string, string>>, isSet: (name: string) => boolean): string[] {
  const problems: string[] = [];
  for (const [variable, { choices, needs }] of Object.entries(PROVIDERS)) {
    const chosen = (vars[variable] ?? "").trim();
    if (!chosen && isSet(variable)) continue; // chosen as a secret: its value cannot be read remotely
    if (!(choices as readonly string[]).includes(chosen)) {
      problems.push(
        `${variable} is not chosen: set ${variable} = "${choices.join('" or "')}" in wrangler.toml [vars] (without it every message of the channel is held)`,
      );
      continue;
    }
    const required: readonly (readonly string[])[] =
      (needs as Record<string, readonly (readonly string[])[]>)[chosen] ?? [];
    for (const anyOf of required) {
      if (!anyOf.some(isSet))
        problems.push(
          `${anyOf.join(" or ")} is not set although ${variable} is ${chosen}: npx wrangler secret put ${anyOf[0]}`,
        );
    }
  }
  return problems;
}

/**
 * The [vars] table of a wrangler.toml (or `section`, e.g. `env.staging.vars`): `NAME = "value"` lines
 * (all this project's vars are strings).
 */
export function readVars(toml: string, section = "vars"): Record<string, string> {
  const vars: Record<string, string> = {};
  let inVars = false;
  for (const line of toml.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed.startsWith("[")) {
      inVars = trimmed === `[${section}]`;
      continue;
    }
    const match = inVars ? /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(trimmed) : null;
    if (match?.[1]) vars[match[1]] = match[2] ?? "";
  }
  return vars;
}

/** The wrangler environment the arguments name (`--env NAME`, `--env=NAME`, `-e NAME`), or null. */
export function environmentOf(args: readonly string[]): string | null {
  for (const [index, arg] of args.entries()) {
    if (arg === "--env" || arg === "-e") return args[index + 1] ?? null;
    if (arg.startsWith("--env=")) return arg.slice("--env=".length);
  }
  return null;
}

/**
 * What stops a deploy to `environment` in wrangler.toml itself: no `[env.NAME]` (wrangler would
 * deploy the top-level Worker under another name), or a `replace-with-...` resource id left in it.
 */
export function environmentProblems(toml: string, environment: string): string[] {
  const problems: string[] = [];
  const ours = (section: string) => section === `env.${environment}` || section.startsWith(`env.${environment}.`);
  let section = "";
  let found = false;
  for (const line of toml.split(/\r?\n/)) {
    const trimmed = line.trim();
    const header = /^\[\[?([^\]]+)\]\]?/.exec(trimmed)?.[1];
    if (header) {
      section = header;
      found ||= ours(section);
      continue;
    }
    const key = /^([A-Za-z_]+)\s*=\s*"replace-with-/.exec(trimmed)?.[1];
    if (key && ours(section)) {
      problems.push(
        `${key} of [${section}] is still a placeholder: create the resource and paste its id (docs/operations.md, "Staging and production")`,
      );
    }
  }
  if (!found) return [`--env ${environment}: wrangler.toml has no [env.${environment}]`];
  return problems;
}

export type WranglerRunner = (args: string[]) => { status: number | null; stdout: string; stderr: string };

const runWrangler: WranglerRunner = (args) => {
  const result = spawnSync("wrangler", args, {
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
};

/** The target Worker's secret names; throws with wrangler's message when it cannot list them. */
export function listSecretNames(run: WranglerRunner, extraArgs: readonly string[]): string[] {
  const result = run(["secret", "list", "--format", "json", ...extraArgs]);
  if (result.status !== 0)
    throw new Error(`wrangler secret list failed: ${result.stderr.trim() || result.stdout.trim()}`);
  const parsed: unknown = JSON.parse(result.stdout.slice(result.stdout.indexOf("[")));
  if (!Array.isArray(parsed)) throw new Error("wrangler secret list did not answer a JSON list");
  return parsed.flatMap((entry) =>
    entry && typeof entry === "object" && typeof entry.name === "string" ? [entry.name] : [],
  );
}

/** Runs the check; returns the process exit code (0 = safe to deploy). */
export function runDeployCheck(options: {
  root: string;
  args: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  run?: WranglerRunner;
  print?: (line: string) => void;
}): number {
  const print = options.print ?? ((line: string) => console.error(line));
  let secretNames: string[];
  try {
    secretNames = listSecretNames(options.run ?? runWrangler, options.args);
  } catch (error) {
    print(`Deploy check: ${(error as Error).message}`);
    return 1;
  }
  const toml = readFileSync(path.join(options.root, "wrangler.toml"), "utf8");
  // Wrangler environments inherit no [vars]: a deploy to one reads only its own [env.NAME.vars].
  const environment = environmentOf(options.args);
  const vars = readVars(toml, environment ? `env.${environment}.vars` : "vars");
  const localValues = Object.fromEntries(CHECKED_VALUES.map((name) => [name, options.env[name]]));
  const problems = [
    ...(environment ? environmentProblems(toml, environment) : []),
    ...deployProblems({ secretNames, vars, localValues }),
  ];
  if (problems.length === 0) {
    print("Deploy check passed. (Remote secrets are checked by name only: wrangler never returns their values.)");
    return 0;
  }
  print("Deploy check failed; nothing was deployed. Set these first:");
  for (const problem of problems) print(`  - ${problem}`);
  print(
    "Remote secrets are checked by name only (wrangler never returns values); export a value locally to check it in full.",
  );
  return 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
  process.exitCode = runDeployCheck({ root, args: process.argv.slice(2), env: process.env });
}
