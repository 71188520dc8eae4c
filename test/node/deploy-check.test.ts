import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deploySteps } from "../../scripts/deploy.ts";
import {
  deployProblems,
  environmentProblems,
  isSecretName,
  readWranglerVars,
  runDeployCheck,
  targetEnvironment,
  type WranglerRunner,
} from "../../scripts/deploy-check.ts";

const root = path.resolve(import.meta.dirname, "../..");
const STRONG = "0123456789abcdef0123456789abcdef01234567";
const AUDIENCE = "a".repeat(64);
/**
 * A target with everything set. The repository's wrangler.toml leaves SMS_PROVIDER and EMAIL_PROVIDER
 * empty (each deployer chooses), so here they are chosen as secrets, which the check accepts by name.
 */
const COMPLETE = ["NOVAMED_WEBHOOK_SECRET", "NOVAMED_CLINIC_IDS", "ADMIN_TOKEN", "SMS_PROVIDER", "EMAIL_PROVIDER"];
/** Providers chosen in [vars] as `log`, which needs no secrets: the tests below are about other settings. */
const LOG_PROVIDERS = { SMS_PROVIDER: "log", EMAIL_PROVIDER: "log" };

/** A fake wrangler answering `secret list` with these names, recording what it was asked. */
function fakeWrangler(names: string[], status = 0): WranglerRunner & { calls: string[][] } {
  const calls: string[][] = [];
  const run = ((args: string[]) => {
    calls.push(args);
    return {
      status,
      stdout: status === 0 ? JSON.stringify(names.map((name) => ({ name, type: "secret_text" }))) : "",
      stderr: status === 0 ? "" : "Authentication error [code: 10000]",
    };
  }) as WranglerRunner & { calls: string[][] };
  run.calls = calls;
  return run;
}

function check(names: string[], env: Record<string, string> = {}, args: string[] = [], checkedRoot = root) {
  const lines: string[] = [];
  const run = fakeWrangler(names);
  const code = runDeployCheck({ root: checkedRoot, args, env, run, print: (line) => lines.push(line) });
  return { code, output: lines.join("\n"), calls: run.calls };
}

describe("deploy check", () => {
  it("passes a complete configuration, asking wrangler for the secret list as JSON", () => {
    const result = check(COMPLETE);
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([["secret", "list", "--format", "json"]]);
    expect(result.output).toContain("by name only");
  });

  it("stops with a list naming every missing secret", () => {
    const result = check([]);
    expect(result.code).toBe(1);
    expect(result.output).toContain(
      "NOVAMED_WEBHOOK_SECRET is not set, nor NOVAMED_WEBHOOK_KEYS: npx wrangler secret put NOVAMED_WEBHOOK_SECRET",
    );
    expect(result.output).toContain("NOVAMED_CLINIC_IDS is not set");
    expect(result.output).toContain("ADMIN_TOKEN is not set and Cloudflare Access is not configured");
  });

  it.each([
    [
      "a short token",
      { ADMIN_TOKEN: "short-token" },
      "ADMIN_TOKEN (the value in your environment) holds a key that must be at least 32 characters",
    ],
    [
      "the old README token",
      { ADMIN_TOKEN: "dev-admin-token" },
      "ADMIN_TOKEN (the value in your environment) is a value published",
    ],
    ["the test suite's token", { ADMIN_TOKEN: "test-only-admin-token-4f9c2a7e1b8d3c6f" }, "is a value published"],
    [
      "a published webhook key among rotated ones",
      { NOVAMED_WEBHOOK_SECRET: `${STRONG},dev-webhook-secret` },
      "NOVAMED_WEBHOOK_SECRET (the value in your environment) is a value published",
    ],
    [
      "the test suite's webhook key",
      { NOVAMED_WEBHOOK_SECRET: "test-webhook-key-current-7d1e9a4c2b6f8e03" },
      "NOVAMED_WEBHOOK_SECRET (the value in your environment) is a value published",
    ],
    [
      "a short webhook key among rotated ones",
      { NOVAMED_WEBHOOK_SECRET: `${STRONG},k3y-short` },
      "NOVAMED_WEBHOOK_SECRET (the value in your environment) holds a key that must be at least 32 characters",
    ],
    [
      "a webhook key of one repeated character",
      { NOVAMED_WEBHOOK_SECRET: "z".repeat(48) },
      "NOVAMED_WEBHOOK_SECRET (the value in your environment) holds a key that is low-entropy",
    ],
    [
      "an admin token of fewer than 8 distinct characters",
      { ADMIN_TOKEN: "abcdefg".repeat(6) },
      "ADMIN_TOKEN (the value in your environment) holds a key that is low-entropy",
    ],
  ])("refuses %s given locally, without printing it", (_case, env, message) => {
    const result = check(["NOVAMED_WEBHOOK_SECRET", "NOVAMED_CLINIC_IDS", "ADMIN_TOKEN"], env);
    expect(result.code).toBe(1);
    expect(result.output).toContain(message);
    for (const value of Object.values(env)) expect(result.output).not.toContain(value);
  });

  it("accepts a strong local token and strong rotated webhook keys", () => {
    const rotated = `${STRONG}, fedcba9876543210fedcba9876543210`;
    expect(check(COMPLETE, { ADMIN_TOKEN: STRONG, NOVAMED_WEBHOOK_SECRET: rotated }).code).toBe(0);
  });

  it("wants both Access settings or neither, and accepts Access without a token", () => {
    const base = ["NOVAMED_WEBHOOK_SECRET", "NOVAMED_CLINIC_IDS"];
    expect(
      deployProblems({
        secretNames: base,
        vars: { ...LOG_PROVIDERS, ACCESS_TEAM_DOMAIN: "clinic", ACCESS_AUD: AUDIENCE },
        localValues: {},
      }),
    ).toEqual([]);
    expect(
      deployProblems({
        secretNames: [...base, "ADMIN_TOKEN"],
        vars: { ...LOG_PROVIDERS, ACCESS_TEAM_DOMAIN: "clinic", ACCESS_AUD: "" },
        localValues: {},
      }),
    ).toEqual([expect.stringMatching(/^ACCESS_AUD is not set/)]);
    expect(
      deployProblems({ secretNames: [...base, "ADMIN_TOKEN", "ACCESS_AUD"], vars: LOG_PROVIDERS, localValues: {} }),
    ).toEqual([expect.stringMatching(/^ACCESS_TEAM_DOMAIN is not set/)]);
  });

  it.each([
    ["ADMIN_TOKEN", true],
    ["NOVAMED_WEBHOOK_SECRET", true],
    ["STRIPE_SECRET", true],
    ["TWILIO_AUTH_TOKEN", true],
    ["RESEND_API_KEY", true],
    ["SESSION_SIGNING_KEY", true],
    ["ADMIN_TOKEN_ACTOR", false],
    ["ACCESS_AUD", false],
    ["KEYBOARD_LAYOUT", false],
    ["PUBLIC_BASE_URL", false],
  ])("%s is a secret's name: %s", (name, secret) => {
    expect(isSecretName(name)).toBe(secret);
  });

  it("refuses a secret-named variable in the [vars] of any environment, even empty, without printing values", () => {
    const directory = mkdtempSync(path.join(tmpdir(), "deploy-check-"));
    try {
      writeFileSync(
        path.join(directory, "wrangler.toml"),
        [
          'name = "x"',
          "[vars]",
          'SMS_PROVIDER = "log"',
          'EMAIL_PROVIDER = "log"',
          "[env.staging.vars]",
          'SMS_PROVIDER = "log"',
          'EMAIL_PROVIDER = "log"',
          `SLACK_SIGNING_SECRET = "value-canary-${STRONG}"`,
          "[env.production]",
          'vars = { SMS_PROVIDER = "log", EMAIL_PROVIDER = "log", ADMIN_TOKEN = "" }',
        ].join("\n"),
      );
      const result = check(COMPLETE, {}, [], directory);
      expect(result.code).toBe(1);
      expect(result.output).toContain("SLACK_SIGNING_SECRET is in wrangler.toml [env.staging.vars]");
      expect(result.output).toContain("ADMIN_TOKEN is in wrangler.toml [env.production.vars]");
      expect(result.output).not.toContain("value-canary");
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it("stops on a wrangler.toml that is not TOML", () => {
    const directory = mkdtempSync(path.join(tmpdir(), "deploy-check-"));
    try {
      writeFileSync(path.join(directory, "wrangler.toml"), '[vars]\nA = "unterminated\n');
      const result = check(COMPLETE, {}, [], directory);
      expect(result.code).toBe(1);
      expect(result.output).toContain("wrangler.toml cannot be read");
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it("refuses a secret written into wrangler.toml [vars]", () => {
    const problems = deployProblems({
      secretNames: ["NOVAMED_WEBHOOK_SECRET", "NOVAMED_CLINIC_IDS"],
      vars: { ...LOG_PROVIDERS, ADMIN_TOKEN: STRONG },
      localValues: {},
    });
    expect(problems).toEqual([expect.stringMatching(/^ADMIN_TOKEN is in wrangler.toml \[vars\]/)]);
  });

  it("stops when wrangler cannot list the secrets", () => {
    const lines: string[] = [];
    const code = runDeployCheck({
      root,
      args: [],
      env: {},
      run: fakeWrangler([], 1),
      print: (line) => lines.push(line),
    });
    expect(code).toBe(1);
    expect(lines.join("\n")).toContain("Authentication error");
  });

  it("wants each channel's provider chosen, and a chosen provider's secrets set", () => {
    const base = ["NOVAMED_WEBHOOK_SECRET", "NOVAMED_CLINIC_IDS", "ADMIN_TOKEN"];
    const problems = (vars: Record<string, string>, extra: string[] = []) =>
      deployProblems({ secretNames: [...base, ...extra], vars, localValues: {} });
    expect(problems({})).toEqual([
      expect.stringMatching(/^SMS_PROVIDER is not chosen: set SMS_PROVIDER = "twilio" or "log"/),
      expect.stringMatching(/^EMAIL_PROVIDER is not chosen: set EMAIL_PROVIDER = "resend" or "log"/),
    ]);
    expect(problems({ SMS_PROVIDER: "twillio", EMAIL_PROVIDER: "log" })).toEqual([
      expect.stringMatching(/^SMS_PROVIDER is not chosen/),
    ]);
    expect(problems({ SMS_PROVIDER: "twilio", EMAIL_PROVIDER: "resend" }, ["TWILIO_ACCOUNT_SID"])).toEqual([
      "TWILIO_AUTH_TOKEN is not set although SMS_PROVIDER is twilio: npx wrangler secret put TWILIO_AUTH_TOKEN",
      "TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER is not set although SMS_PROVIDER is twilio: npx wrangler secret put TWILIO_MESSAGING_SERVICE_SID",
      "RESEND_API_KEY is not set although EMAIL_PROVIDER is resend: npx wrangler secret put RESEND_API_KEY",
      "EMAIL_FROM is not set although EMAIL_PROVIDER is resend: npx wrangler secret put EMAIL_FROM",
    ]);
    const twilioAndResend = ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "RESEND_API_KEY"];
    expect(
      problems(
        { SMS_PROVIDER: "twilio", EMAIL_PROVIDER: "resend", EMAIL_FROM: "Clinic <c@x.example>" },
        twilioAndResend,
      ),
    ).toEqual([]);
  });

  it("reads wrangler.toml with a TOML parser: the target environment's vars, which are not inherited", () => {
    const toml = [
      "[vars]",
      'A = ""',
      'B = "x" # note',
      "C = '''multi",
      "line'''",
      "[dev]",
      'D = "no"',
      "[env.staging.vars]",
      "B = 'staging'",
      "N = 3",
    ].join("\n");
    expect(readWranglerVars(toml).target).toEqual({ A: "", B: "x", C: "multi\nline" });
    expect(readWranglerVars(toml, "staging").target).toEqual({ B: "staging", N: "3" });
    expect(readWranglerVars(toml, "production").target).toEqual({});
    expect(Object.keys(readWranglerVars(toml).tables)).toEqual(["[vars]", "[env.staging.vars]"]);
    expect(targetEnvironment(["--env", "staging"])).toBe("staging");
    expect(targetEnvironment(["--env=production"])).toBe("production");
    expect(targetEnvironment([])).toBeNull();
  });

  it("reads the project's own wrangler.toml, which names no secret in any [vars]", () => {
    const { tables } = readWranglerVars(readFileSync(path.join(root, "wrangler.toml"), "utf8"));
    expect(Object.keys(tables["[vars]"] ?? {})).toContain("SMS_PROVIDER");
    for (const vars of Object.values(tables)) expect(Object.keys(vars).filter(isSecretName)).toEqual([]);
  });

  it("checks an environment against its own [env.NAME.vars] and secrets", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "deploy-env-"));
    try {
      writeFileSync(
        path.join(dir, "wrangler.toml"),
        '[vars]\nSMS_PROVIDER = ""\nEMAIL_PROVIDER = ""\n\n[env.staging]\n\n[env.staging.vars]\nSMS_PROVIDER = "log"\nEMAIL_PROVIDER = "log"\n',
      );
      const secrets = ["NOVAMED_WEBHOOK_SECRET", "NOVAMED_CLINIC_IDS", "ADMIN_TOKEN"];
      const staging = check(secrets, {}, ["--env", "staging"], dir);
      expect(staging.calls).toEqual([["secret", "list", "--format", "json", "--env", "staging"]]);
      expect(staging.code).toBe(0);
      // The top level chooses no provider: the same secrets fail there.
      expect(check(secrets, {}, [], dir).output).toContain("SMS_PROVIDER is not chosen");
      const production = check(secrets, {}, ["--env", "production"], dir);
      expect(production.code).toBe(1);
      expect(production.output).toContain("--env production: wrangler.toml has no [env.production]");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses an environment whose resource ids are still placeholders (as the repository ships them)", () => {
    const toml = readFileSync(path.join(root, "wrangler.toml"), "utf8");
    for (const environment of ["staging", "production"]) {
      expect(environmentProblems(toml, environment)).toEqual([
        expect.stringMatching(
          new RegExp(`^database_id of \\[env\\.${environment}\\.d1_databases\\] is still a placeholder`),
        ),
      ]);
    }
  });

  it("gives each environment its own database, queues, dead-letter queues and bucket", () => {
    const toml = readFileSync(path.join(root, "wrangler.toml"), "utf8");
    const names = (pattern: RegExp) => [...toml.matchAll(pattern)].map((match) => match[1]);
    const databases = names(/^database_name = "([^"]+)"/gm);
    const queues = names(/^queue = "([^"]+)"/gm);
    const buckets = names(/^bucket_name = "([^"]+)"/gm);
    expect(databases).toEqual(["novamed-receiver", "novamed-receiver-staging", "novamed-receiver-production"]);
    expect(buckets).toEqual(["novamed-archive", "novamed-archive-staging", "novamed-archive-production"]);
    for (const environment of ["staging", "production"]) {
      expect(new Set(queues.filter((queue) => queue?.endsWith(`-${environment}`)))).toEqual(
        new Set(
          [
            "novamed-events",
            "novamed-events-dlq",
            "patient-notifications",
            "patient-notifications-dlq",
            "clinic-deliveries",
            "clinic-deliveries-dlq",
          ].map((queue) => `${queue}-${environment}`),
        ),
      );
      expect(readWranglerVars(toml, environment).target).toEqual(readWranglerVars(toml).target);
    }
  });

  it("gives each environment the top level's queue consumer settings (retries, batches, dead-letter queues)", () => {
    const config = parseToml(readFileSync(path.join(root, "wrangler.toml"), "utf8")) as {
      queues: { consumers: Record<string, unknown>[] };
      env: Record<string, { queues: { consumers: Record<string, unknown>[] } }>;
    };
    const settings = (consumers: Record<string, unknown>[], suffix: string) =>
      consumers.map(({ queue, dead_letter_queue, ...rest }) => ({
        queue: String(queue).replace(suffix, ""),
        dead_letter_queue: dead_letter_queue === undefined ? undefined : String(dead_letter_queue).replace(suffix, ""),
        ...rest,
      }));
    for (const environment of ["staging", "production"]) {
      expect(settings(config.env[environment]?.queues.consumers ?? [], `-${environment}`)).toEqual(
        settings(config.queues.consumers, ""),
      );
    }
  });
});

describe("npm run deploy wiring", () => {
  let bin: string;
  beforeEach(() => {
    bin = mkdtempSync(path.join(tmpdir(), "fake-wrangler-"));
  });
  afterEach(() => rmSync(bin, { recursive: true, force: true }));

  /** Runs scripts/deploy-check.ts with a stub `wrangler` first on PATH that logs its arguments. */
  function runWithStub(secretListJson: string) {
    const log = path.join(bin, "calls.log");
    writeFileSync(path.join(bin, "wrangler"), `#!/bin/sh\necho "$@" >> "${log}"\necho '${secretListJson}'\n`);
    chmodSync(path.join(bin, "wrangler"), 0o755);
    return spawnSync(process.execPath, [path.join(root, "scripts/deploy-check.ts")], {
      cwd: root,
      encoding: "utf8",
      env: { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}` },
    });
  }

  it("the deploy script runs the check before migrations and deploy", async () => {
    const pkg = (await import("../../package.json", { with: { type: "json" } })).default;
    expect(pkg.scripts.deploy).toBe("node scripts/deploy.ts");
    expect(deploySteps([]).map((step) => step.slice(1).join(" "))).toEqual([
      path.join(root, "scripts/deploy-check.ts"),
      "d1 migrations apply DB --remote",
      "deploy",
    ]);
  });

  it("passes the environment to the check, the remote migrations and wrangler deploy", () => {
    for (const args of [["--env", "staging"], ["--env=staging"], ["-e", "staging"]]) {
      expect(deploySteps(args).map((step) => step.slice(-2))).toEqual([
        ["--env", "staging"],
        ["--env", "staging"],
        ["--env", "staging"],
      ]);
    }
    expect(() => deploySteps(["--env"])).toThrow("usage");
    expect(() => deploySteps(["--env", "staging", "--dry-run"])).toThrow("usage");
  });

  it("stops before the migrations when the check fails for the environment", () => {
    const log = path.join(bin, "calls.log");
    writeFileSync(path.join(bin, "wrangler"), `#!/bin/sh\necho "$@" >> "${log}"\necho '[]'\n`);
    chmodSync(path.join(bin, "wrangler"), 0o755);
    const result = spawnSync(process.execPath, [path.join(root, "scripts/deploy.ts"), "--env", "staging"], {
      cwd: root,
      encoding: "utf8",
      env: { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}` },
    });
    expect(result.status).toBe(1);
    expect(readFileSync(log, "utf8").trim().split("\n")).toEqual(["secret list --format json --env staging"]);
  });

  it("exits 1 with the list against a wrangler that reports no secrets, 0 when all are set", () => {
    const missing = runWithStub("[]");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("NOVAMED_WEBHOOK_SECRET is not set");
    const complete = runWithStub(JSON.stringify(COMPLETE.map((name) => ({ name, type: "secret_text" }))));
    expect(complete.stderr).toContain("Deploy check passed");
    expect(complete.status).toBe(0);
  });
});
