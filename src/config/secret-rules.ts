/**
 * The key rule for every secret that alone opens the receiver: each NovaMed webhook key (every entry
 * of `NOVAMED_WEBHOOK_SECRET`, and of per-clinic key lists) and `ADMIN_TOKEN`. Shared by the Worker
 * (src/config/webhook.ts, src/config/admin.ts) and the deploy check (scripts/deploy-check.ts). A leaf
 * module without imports, so Node runs it without a build step.
 */

/** The shortest key accepted: 32 characters (e.g. `openssl rand -hex 32` gives 64). */
export const SECRET_KEY_MIN_LENGTH = 32;
/** Fewer distinct characters than this is a low-entropy key (`aaaa…`, `abababab…`, `12341234…`). */
export const SECRET_KEY_MIN_DISTINCT_CHARACTERS = 8;

/**
 * Values that were ever published in this repository (README examples, `.dev.vars.example`, test
 * configuration): anyone can read them, so none may guard a receiver, not even locally.
 */
export const PUBLISHED_SECRET_VALUES: readonly string[] = [
  "dev-admin-token",
  "test-admin-token",
  "admin-token",
  "changeme",
  "dev-webhook-secret",
  "test-key-current",
  "test-key-previous",
  "browser-webhook-key",
  "bench-key",
];

/**
 * The test suites' keys: strong enough for the Worker to accept under test, yet public, so the
 * deploy check refuses them wherever it sees the value.
 */
export const TEST_ONLY_SECRET_VALUES: readonly string[] = [
  "test-only-admin-token-4f9c2a7e1b8d3c6f",
  "browser-admin-token-0123456789abcdef",
  "test-webhook-key-current-7d1e9a4c2b6f8e03",
  "test-webhook-key-previous-5a0c3f9e1d7b2c64",
  "browser-webhook-key-9e4f1a7c3b2d8e60",
  "bench-webhook-key-2c7e9a1f4d3b8c05",
];

/**
 * Why `key` cannot guard the receiver, or null when it meets the key rule: at least
 * {@link SECRET_KEY_MIN_LENGTH} characters, not a published or example value, and at least
 * {@link SECRET_KEY_MIN_DISTINCT_CHARACTERS} distinct characters. The answer never quotes the key.
 */
export function secretKeyProblem(key: string): string | null {
  if (PUBLISHED_SECRET_VALUES.includes(key)) return "is a value published in the repository; generate a new one";
  if (key.length < SECRET_KEY_MIN_LENGTH) return `must be at least ${SECRET_KEY_MIN_LENGTH} characters`;
  if (new Set(key).size < SECRET_KEY_MIN_DISTINCT_CHARACTERS)
    return `is low-entropy (fewer than ${SECRET_KEY_MIN_DISTINCT_CHARACTERS} distinct characters); generate a random one`;
  return null;
}
