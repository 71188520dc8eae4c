import { describe, expect, it } from "vitest";
import { deployProblems, isSecretName } from "../../scripts/deploy-check.ts";

/** Everything a deploy needs but the webhook keys (providers chosen as `log`, which needs no secrets). */
const BASE = ["NOVAMED_CLINIC_IDS", "ADMIN_TOKEN"];
const LOG_PROVIDERS = { SMS_PROVIDER: "log", EMAIL_PROVIDER: "log" };
const CLINIC = "550e8400-e29b-41d4-a716-446655440000";
const STRONG = "0123456789abcdef0123456789abcdef01234567";

const problemsWith = (secretNames: string[], localValues: Record<string, string> = {}) =>
  deployProblems({ secretNames, vars: LOG_PROVIDERS, localValues });

describe("deploy check: per-clinic webhook keys (issue 22.3)", () => {
  it("accepts NOVAMED_WEBHOOK_KEYS alone, NOVAMED_WEBHOOK_SECRET alone, or both; refuses neither", () => {
    expect(problemsWith([...BASE, "NOVAMED_WEBHOOK_KEYS"])).toEqual([]);
    expect(problemsWith([...BASE, "NOVAMED_WEBHOOK_SECRET"])).toEqual([]);
    expect(problemsWith([...BASE, "NOVAMED_WEBHOOK_SECRET", "NOVAMED_WEBHOOK_KEYS"])).toEqual([]);
    expect(problemsWith(BASE)).toEqual([
      expect.stringMatching(/^NOVAMED_WEBHOOK_SECRET is not set, nor NOVAMED_WEBHOOK_KEYS: /),
    ]);
  });

  it("checks a local NOVAMED_WEBHOOK_KEYS value in full: JSON, every key of every clinic by the key rule", () => {
    const names = [...BASE, "NOVAMED_WEBHOOK_KEYS"];
    expect(problemsWith(names, { NOVAMED_WEBHOOK_KEYS: JSON.stringify({ [CLINIC]: [STRONG] }) })).toEqual([]);
    expect(problemsWith(names, { NOVAMED_WEBHOOK_KEYS: "not json" })).toEqual([
      expect.stringMatching(/^NOVAMED_WEBHOOK_KEYS \(the value in your environment\) is not JSON/),
    ]);
    const weak = problemsWith(names, { NOVAMED_WEBHOOK_KEYS: JSON.stringify({ [CLINIC]: [STRONG, "short"] }) });
    expect(weak).toEqual([
      expect.stringMatching(/^NOVAMED_WEBHOOK_KEYS \(the value in your environment\) holds a key that/),
    ]);
    // The problem never quotes the key.
    expect(weak.join("\n")).not.toContain("short");
  });

  it("NOVAMED_WEBHOOK_KEYS is a secret's name: never in wrangler.toml", () => {
    expect(isSecretName("NOVAMED_WEBHOOK_KEYS")).toBe(true);
    expect(isSecretName("NOVAMED_CLINIC_IDS")).toBe(false);
  });
});
