import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
// @ts-expect-error -- a plain .mjs script without type declarations
import { ensureDevVars, plan, randomKey, summarizeMigrations } from "../../scripts/dev.mjs";
import { secretKeyProblem } from "../../src/config/secret-rules.ts";

describe("npm run dev / dev:tunnel wiring", () => {
  it("applies local migrations before starting wrangler dev on 8787, with no DNS lookup of the Request.cf object", () => {
    expect(plan([])).toEqual([
      ["wrangler", ["d1", "migrations", "apply", "DB", "--local"], { CI: "true" }],
      ["wrangler", ["dev", "--port", "8787"], { CLOUDFLARE_CF_FETCH_ENABLED: "false" }],
    ]);
  });

  it("passes --tunnel (npm run dev:tunnel) through to wrangler dev", () => {
    expect(plan(["--tunnel"]).at(-1)).toEqual([
      "wrangler",
      ["dev", "--port", "8787", "--tunnel"],
      { CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    ]);
  });

  it.each([[["--port", "9000"]], [["--port=9000"]], [["--tunnel", "--port", "9000"]]])(
    "leaves the port to the caller when %j chooses one (wrangler refuses two)",
    (extra) => {
      const wranglerDev = plan(extra).at(-1)[1] as string[];
      expect(wranglerDev).toEqual(["dev", ...extra]);
      expect(wranglerDev).not.toContain("8787");
    },
  );
});

describe("the migration step's output (wrangler prints a table row and two lines per migration)", () => {
  const banner =
    " ⛅️ wrangler 4.156.2\n────────────\nResource location: local \n\nUse --remote if you want to access the remote instance.\n\n";
  const names = Array.from({ length: 60 }, (_, index) => `${String(index + 1).padStart(4, "0")}_step.sql`);
  const applied = `${banner}Migrations to be applied:\n┌────┐\n│ name │\n${names.map((name) => `├────┤\n│ ${name} │\n`).join("")}└────┘\n? About to apply ${names.length} migration(s)\n${names.map(() => "🌀 Executing on local database DB (DB) from .wrangler/state/v3/d1:\n🚣 3 commands executed successfully.\n").join("")}┌────┬────┐\n${names.map((name) => `│ ${name} │ ✅ │\n`).join("")}`;

  it("is one line naming how many were applied, the first and the last", () => {
    expect(applied.split("\n").length).toBeGreaterThan(300);
    expect(summarizeMigrations(applied)).toBe(
      "Local D1 database: applied 60 migration(s) (0001_step.sql … 0060_step.sql).",
    );
  });

  it("says when the database is up to date", () => {
    expect(summarizeMigrations(`${banner}✅ No migrations to apply!\n`)).toBe(
      "Local D1 database: up to date (no migrations to apply).",
    );
  });

  it("gives up (the script then prints wrangler's output whole) on anything it does not recognise", () => {
    expect(summarizeMigrations(`${banner}✘ [ERROR] near "TABLEE": syntax error\n`)).toBeNull();
  });
});

describe("the local .dev.vars", () => {
  let directory: string;
  const example = readFileSync(path.join(import.meta.dirname, "../../.dev.vars.example"), "utf8");

  beforeEach(() => {
    directory = mkdtempSync(path.join(tmpdir(), "dev-vars-"));
    writeFileSync(path.join(directory, ".dev.vars.example"), example);
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it("the committed example holds no admin token and no usable webhook key", () => {
    expect(example).not.toMatch(/^\s*ADMIN_TOKEN\s*=/m);
    const webhookKeys = /^NOVAMED_WEBHOOK_SECRET=(.*)$/m.exec(example)?.[1] ?? "";
    expect(webhookKeys.trim()).toBe("");
  });

  it("is created from the example with a random webhook key and admin token meeting the key rule", () => {
    const result = ensureDevVars(directory);
    expect(result).toEqual({ created: true, path: path.join(directory, ".dev.vars") });
    const written = readFileSync(result.path, "utf8");
    const token = /^ADMIN_TOKEN=(.*)$/m.exec(written)?.[1] ?? "";
    const webhookLines = written.match(/^NOVAMED_WEBHOOK_SECRET=.*$/gm) ?? [];
    expect(webhookLines).toHaveLength(1);
    const webhookKey = webhookLines[0]?.slice("NOVAMED_WEBHOOK_SECRET=".length) ?? "";
    for (const key of [token, webhookKey]) {
      expect(key).toMatch(/^[0-9a-f]{64}$/);
      expect(secretKeyProblem(key)).toBeNull();
    }
    expect(webhookKey).not.toBe(token);
    // Everything else of the example is kept, line for line.
    expect(written.replace(webhookLines[0] ?? "", "NOVAMED_WEBHOOK_SECRET=").startsWith(example)).toBe(true);
    // Owner-only: the keys are credentials.
    expect(statSync(result.path).mode & 0o077).toBe(0);
  });

  it("gives every new checkout its own keys", () => {
    expect(randomKey()).not.toBe(randomKey());
  });

  it("never overwrites an existing .dev.vars", () => {
    const existing = path.join(directory, ".dev.vars");
    writeFileSync(existing, "ADMIN_TOKEN=mine-and-only-mine-0123456789abcdef\n");
    expect(ensureDevVars(directory)).toEqual({ created: false, path: existing });
    expect(readFileSync(existing, "utf8")).toBe("ADMIN_TOKEN=mine-and-only-mine-0123456789abcdef\n");
  });
});
