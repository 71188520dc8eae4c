import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
// @ts-expect-error -- a plain .mjs script without type declarations
import { ensureDevVars, plan, randomAdminToken } from "../../scripts/dev.mjs";

describe("npm run dev / dev:tunnel wiring", () => {
  it("applies local migrations before starting wrangler dev on 8787", () => {
    expect(plan([])).toEqual([
      ["wrangler", ["d1", "migrations", "apply", "DB", "--local"], { CI: "true" }],
      ["wrangler", ["dev", "--port", "8787"], {}],
    ]);
  });

  it("passes --tunnel (npm run dev:tunnel) through to wrangler dev", () => {
    expect(plan(["--tunnel"]).at(-1)).toEqual(["wrangler", ["dev", "--port", "8787", "--tunnel"], {}]);
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

describe("the local .dev.vars", () => {
  let directory: string;
  const example = readFileSync(path.join(import.meta.dirname, "../../.dev.vars.example"), "utf8");

  beforeEach(() => {
    directory = mkdtempSync(path.join(tmpdir(), "dev-vars-"));
    writeFileSync(path.join(directory, ".dev.vars.example"), example);
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it("the committed example holds no admin token", () => {
    expect(example).not.toMatch(/^\s*ADMIN_TOKEN\s*=/m);
  });

  it("is created from the example with a random token of at least 32 characters", () => {
    const result = ensureDevVars(directory);
    expect(result).toEqual({ created: true, path: path.join(directory, ".dev.vars") });
    const written = readFileSync(result.path, "utf8");
    expect(written.startsWith(example)).toBe(true);
    const token = /^ADMIN_TOKEN=(.*)$/m.exec(written)?.[1] ?? "";
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    // Owner-only: the token is a credential.
    expect(statSync(result.path).mode & 0o077).toBe(0);
  });

  it("gives every new checkout its own token", () => {
    expect(randomAdminToken()).not.toBe(randomAdminToken());
  });

  it("never overwrites an existing .dev.vars", () => {
    const existing = path.join(directory, ".dev.vars");
    writeFileSync(existing, "ADMIN_TOKEN=mine-and-only-mine-0123456789abcdef\n");
    expect(ensureDevVars(directory)).toEqual({ created: false, path: existing });
    expect(readFileSync(existing, "utf8")).toBe("ADMIN_TOKEN=mine-and-only-mine-0123456789abcdef\n");
  });
});
