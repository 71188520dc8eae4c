// `npm run deploy` runs this first: it refuses to deploy a receiver whose configuration would be
// unsafe, and says what to set. It reads the target Worker's secret *names* (`wrangler secret list`,
// JSON; wrangler never returns values) and wrangler.toml (parsed with smol-toml), plus any secret
// value the operator exports locally (for example before `wrangler secret put`), which it can check
// in full against the key rule (src/config/secret-rules.ts).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseToml } from "smol-toml";
import {
  PUBLISHED_SECRET_VALUES,
  SECRET_KEY_MIN_LENGTH,
  secretKeyProblem,
  TEST_ONLY_SECRET_VALUES,
} from "../src/config/secret-rules.ts";

/** Secrets a receiver cannot run without. */
const REQUIRED_SECRETS = ["NOVAMED_CLINIC_IDS"] as const;
/**
 * The webhook keys: the shared `NOVAMED_WEBHOOK_SECRET` (every clinic), per-clinic
 * `NOVAMED_WEBHOOK_KEYS` (JSON), or both during a migration; one of them must be set.
 */
const WEBHOOK_KEY_SECRETS = ["NOVAMED_WEBHOOK_SECRET", "NOVAMED_WEBHOOK_KEYS"] as const;
/** Secrets whose values, when given locally, must not be ones the repository published. */
const CHECKED_VALUES = [
  "NOVAMED_WEBHOOK_SECRET",
  "NOVAMED_WEBHOOK_KEYS",
  "ADMIN_TOKEN",
  "TWILIO_AUTH_TOKEN",
  "RESEND_API_KEY",
] as const;
/** Secrets that alone open the receiver (or a clinic of it): each of their keys must meet the key rule. */
const KEY_RULE_VALUES: readonly string[] = ["NOVAMED_WEBHOOK_SECRET", "NOVAMED_WEBHOOK_KEYS", "ADMIN_TOKEN"];

/**
 * Whether a variable's name says it holds a secret (`ADMIN_TOKEN`, `*_SECRET`, `*_TOKEN`, `*_KEY(S)`):
 * such a variable never belongs in wrangler.toml, where anyone with the repository reads it.
 */
export function isSecretName(name: string): boolean {
  return name === "ADMIN_TOKEN" || /_(SECRET|TOKEN|KEYS?)$/.test(name);
}

/** The variables of wrangler.toml: the target environment's, and every table, for the secret-name rule. */
export interface WranglerVars {
  /** The [vars] the deployed Worker gets: `[env.<name>.vars]` with `--env`, else `[vars]` (vars are not inherited). */
  target: Readonly<Record<string, string>>;
  /** Every vars table by its TOML name (`[vars]`, `[env.staging.vars]`, …), values as written. */
  tables: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export interface DeployConfiguration {
  /** Names of the secrets set on the target Worker. */
  secretNames: readonly string[];
  /** The target's vars (empty strings mean "the default"). */
  vars: Readonly<Record<string, string>>;
  /** Every vars table of wrangler.toml; defaults to `[vars]` = `vars`. */
  varTables?: WranglerVars["tables"];
  /** Secret values the operator provided locally (environment variables), checked in full. */
  localValues: Readonly<Record<string, string | undefined>>;
}

/** Everything wrong with a configuration, one sentence each naming the variable; empty when safe. */
export function deployProblems({ secretNames, vars, varTables, localValues }: DeployConfiguration): string[] {
  const problems: string[] = [];
  const isSet = (name: string) => secretNames.includes(name) || (vars[name] ?? "").trim() !== "";
  for (const [table, tableVars] of Object.entries(varTables ?? { "[vars]": vars })) {
    for (const name of Object.keys(tableVars).filter(isSecretName)) {
      problems.push(
        `${name} is in wrangler.toml ${table}, a secret's name; remove it and use: npx wrangler secret put ${name}`,
      );
    }
  }
  for (const name of REQUIRED_SECRETS) {
    if (!isSet(name)) problems.push(`${name} is not set: npx wrangler secret put ${name}`);
  }
  if (!WEBHOOK_KEY_SECRETS.some(isSet)) {
    problems.push(
      'NOVAMED_WEBHOOK_SECRET is not set, nor NOVAMED_WEBHOOK_KEYS: npx wrangler secret put NOVAMED_WEBHOOK_SECRET (one key for every clinic), or NOVAMED_WEBHOOK_KEYS (JSON {"<clinic uuid>": ["<key>"]}, a key per clinic)',
    );
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
      `ADMIN_TOKEN is not set and Cloudflare Access is not configured, so nobody could use /admin or the console: npx wrangler secret put ADMIN_TOKEN (at least ${SECRET_KEY_MIN_LENGTH} characters, e.g. openssl rand -hex 32), or set ACCESS_TEAM_DOMAIN and ACCESS_AUD`,
    );
  }
  problems.push(...providerProblems(vars, isSet));
  const knownValues = [...PUBLISHED_SECRET_VALUES, ...TEST_ONLY_SECRET_VALUES];
  for (const name of CHECKED_VALUES) {
    const value = localValues[name]?.trim();
    if (!value) continue;
    const keys = keysOf(name, value);
    if (keys === null) {
      problems.push(
        `${name} (the value in your environment) is not JSON like {"<clinic uuid>": ["<key>", "<next key>"]}`,
      );
      continue;
    }
    if (keys.some((key) => knownValues.includes(key))) {
      problems.push(
        `${name} (the value in your environment) is a value published in the repository; generate a new one`,
      );
      continue;
    }
    if (!KEY_RULE_VALUES.includes(name)) continue;
    const weak = keys.map(secretKeyProblem).find((problem) => problem !== null);
    if (weak) problems.push(`${name} (the value in your environment) holds a key that ${weak}`);
  }
  return problems;
}

/**
 * The keys a secret's value holds: a comma-separated list (a key rotation) for most, every key of every
 * clinic for `NOVAMED_WEBHOOK_KEYS` (null when that is not a JSON object of key lists). A secret is
 * unsafe when any of its keys is.
 */
function keysOf(name: string, value: string): string[] | null {
  if (name !== "NOVAMED_WEBHOOK_KEYS") {
    return value
      .split(",")
      .map((entry) => entry.trim())
      .filter((entry) => entry !== "");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  if (!isTable(parsed)) return null;
  const keys = Object.values(parsed).flatMap((list) => (Array.isArray(list) ? list : [list]));
  return keys.every((key) => typeof key === "string") ? (keys as string[]) : null;
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

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** A vars value as the Worker sees it: strings as they are, anything else as JSON text. */
function asText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * The vars of a wrangler.toml (parsed with smol-toml; a syntax error throws): the target environment's
 * (`environment` null = the top level) and every vars table, top level and `[env.*.vars]`.
 */
export function readWranglerVars(toml: string, environment: string | null = null): WranglerVars {
  const config = parseToml(toml) as Record<string, unknown>;
  const tables: Record<string, Record<string, unknown>> = {};
  if (isTable(config.vars)) tables["[vars]"] = config.vars;
  const environments = isTable(config.env) ? config.env : {};
  for (const [name, settings] of Object.entries(environments)) {
    if (isTable(settings) && isTable(settings.vars)) tables[`[env.${name}.vars]`] = settings.vars;
  }
  const targetTable = environment === null ? tables["[vars]"] : tables[`[env.${environment}.vars]`];
  const target = Object.fromEntries(Object.entries(targetTable ?? {}).map(([name, value]) => [name, asText(value)]));
  return { target, tables };
}

/** The `--env <name>` (or `--env=<name>`, `-e <name>`) of the deploy command's arguments, or null. */
export function targetEnvironment(args: readonly string[]): string | null {
  for (const [index, arg] of args.entries()) {
    if (arg.startsWith("--env=")) return arg.slice("--env=".length) || null;
    if (arg === "--env" || arg === "-e") return args[index + 1] ?? null;
  }
  return null;
}

/**
 * What stops a deploy to `environment` in wrangler.toml itself: no `[env.NAME]` (wrangler would
 * deploy the top-level Worker under another name), or a `replace-with-...` resource id left in it.
 */
export function environmentProblems(toml: string, environment: string): string[] {
  const config = parseToml(toml) as Record<string, unknown>;
  const settings = isTable(config.env) ? config.env[environment] : undefined;
  if (!isTable(settings)) return [`--env ${environment}: wrangler.toml has no [env.${environment}]`];
  const problems: string[] = [];
  const visit = (value: unknown, section: string) => {
    if (Array.isArray(value)) for (const item of value) visit(item, section);
    else if (isTable(value)) {
      for (const [key, inner] of Object.entries(value)) {
        if (typeof inner === "string" && inner.startsWith("replace-with-")) {
          problems.push(
            `${key} of [${section}] is still a placeholder: create the resource and paste its id (docs/operations.md, "Staging and production")`,
          );
        } else if (typeof inner === "object" && inner !== null) visit(inner, `${section}.${key}`);
      }
    }
  };
  visit(settings, `env.${environment}`);
  return problems;
}

/** Runs `wrangler <args>`; returns its exit status and output. */
export type WranglerRunner = (args: string[]) => { status: number | null; stdout: string; stderr: string };

/** A runner that calls `wrangler` from PATH (npm scripts put node_modules/.bin there). */
export function spawnWrangler(cwd?: string, env?: NodeJS.ProcessEnv): WranglerRunner {
  return (args) => {
    const result = spawnSync("wrangler", args, {
      cwd,
      encoding: "utf8",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...env },
    });
    return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
  };
}

const runWrangler = spawnWrangler();

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
  let wranglerVars: WranglerVars;
  let toml: string;
  try {
    toml = readFileSync(path.join(options.root, "wrangler.toml"), "utf8");
    // Wrangler environments inherit no [vars]: a deploy to one reads only its own [env.NAME.vars].
    wranglerVars = readWranglerVars(toml, targetEnvironment(options.args));
  } catch (error) {
    print(`Deploy check: wrangler.toml cannot be read: ${(error as Error).message.split("\n", 1)[0]}`);
    return 1;
  }
  const localValues = Object.fromEntries(CHECKED_VALUES.map((name) => [name, options.env[name]]));
  const environment = targetEnvironment(options.args);
  const problems = [
    ...(environment ? environmentProblems(toml, environment) : []),
    ...deployProblems({ secretNames, vars: wranglerVars.target, varTables: wranglerVars.tables, localValues }),
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
