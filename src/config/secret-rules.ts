/**
 * Rules for secret values shared by the Worker (src/config/admin.ts) and the deploy check
 * (scripts/deploy-check.ts). A leaf module without imports, so Node runs it without a build step.
 */

/** The shortest `ADMIN_TOKEN` accepted: 32 characters (e.g. `openssl rand -hex 32` gives 64). */
export const ADMIN_TOKEN_MIN_LENGTH = 32;

/**
 * Values that were ever published in this repository (README examples, `.dev.vars.example`, test
 * configuration): anyone can read them, so none may guard a deployed receiver.
 */
export const PUBLISHED_SECRET_VALUES: readonly string[] = [
  "dev-admin-token",
  "test-admin-token",
  "admin-token",
  "changeme",
  "dev-webhook-secret",
  "test-key-current",
  "test-key-previous",
];

/**
 * The test suites' tokens: strong enough for the Worker to accept under test, yet public, so the
 * deploy check refuses them wherever it sees the value.
 */
export const TEST_ONLY_SECRET_VALUES: readonly string[] = [
  "test-only-admin-token-4f9c2a7e1b8d3c6f",
  "browser-admin-token-0123456789abcdef",
];

/** Why `token` cannot be the admin token, or null when it is acceptable. Never quotes the value. */
export function adminTokenProblem(token: string): string | null {
  if (PUBLISHED_SECRET_VALUES.includes(token)) return "is a value published in the repository; generate a new one";
  if (token.length < ADMIN_TOKEN_MIN_LENGTH) return `must be at least ${ADMIN_TOKEN_MIN_LENGTH} characters`;
  return null;
}

/** The shortest webhook key accepted (`NOVAMED_WEBHOOK_KEYS`): 32 characters, like the admin token. */
export const WEBHOOK_KEY_MIN_LENGTH = 32;

/**
 * Why `value` cannot be a NovaMed webhook key, or null when it is acceptable: at least 32 characters,
 * not a published or example value, at least 8 distinct characters. Never quotes the value.
 */
export function keyProblem(value: string): string | null {
  if (PUBLISHED_SECRET_VALUES.includes(value)) return "holds a value published in the repository; generate a new one";
  if (value.length < WEBHOOK_KEY_MIN_LENGTH) return `holds a key shorter than ${WEBHOOK_KEY_MIN_LENGTH} characters`;
  if (new Set(value).size < 8) return "holds a key with fewer than 8 distinct characters";
  return null;
}
