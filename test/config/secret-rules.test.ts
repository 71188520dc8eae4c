import { describe, expect, it } from "vitest";
import {
  PUBLISHED_SECRET_VALUES,
  SECRET_KEY_MIN_LENGTH,
  secretKeyProblem,
  TEST_ONLY_SECRET_VALUES,
} from "../../src/config/secret-rules";

describe("the key rule (secretKeyProblem), for every webhook key and the admin token", () => {
  it.each([
    ["64 random hex characters", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    ["exactly 32 characters with 8 distinct", "abcdefgh".repeat(4)],
    ...TEST_ONLY_SECRET_VALUES.map((value) => [`the test-only value ${value}`, value] as const),
  ] as [string, string][])("accepts %s", (_case, key) => {
    expect(secretKeyProblem(key)).toBeNull();
  });

  it.each([
    ["one character", "k", /at least 32 characters/],
    ["31 characters", "abcdefgh".repeat(4).slice(1), /at least 32 characters/],
    ["one repeated character", "x".repeat(64), /low-entropy/],
    ["7 distinct characters", "abcdefg".repeat(10), /low-entropy/],
    ...PUBLISHED_SECRET_VALUES.map((value) => [`the published value ${value}`, value, /published/] as const),
  ] as [string, string, RegExp][])("refuses %s, without quoting it", (_case, key, reason) => {
    const problem = secretKeyProblem(key);
    expect(problem).toMatch(reason);
    expect(problem).not.toContain(key);
  });

  it("asks for 32 characters", () => {
    expect(SECRET_KEY_MIN_LENGTH).toBe(32);
  });
});
