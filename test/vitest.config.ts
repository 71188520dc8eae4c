import path from "node:path";
import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The Workers test project: every test under test/ except test/node (Node tools) and test/browser (Chromium). */
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(root, "migrations"));
  return {
    root,
    plugins: [
      cloudflareTest({
        wrangler: { configPath: path.join(root, "wrangler.toml") },
        miniflare: {
          // The secrets of .dev.vars.example, so tests never depend on a developer's .dev.vars.
          bindings: {
            NOVAMED_WEBHOOK_SECRET:
              "test-webhook-key-current-7d1e9a4c2b6f8e03,test-webhook-key-previous-5a0c3f9e1d7b2c64",
            // One clinic, as a deployment that predates clinics as tenants; the two-clinic tests (test/tenancy/)
            // run the Worker with both ids (test/helpers/clinics.ts).
            NOVAMED_CLINIC_IDS: "550e8400-e29b-41d4-a716-446655440000",
            ADMIN_TOKEN: "test-only-admin-token-4f9c2a7e1b8d3c6f",
            // Providers are chosen explicitly; tests that reach Twilio and Resend use providerEnv().
            SMS_PROVIDER: "log",
            EMAIL_PROVIDER: "log",
            TEST_MIGRATIONS: migrations,
          },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      exclude: ["test/node/**", "test/browser/**", "node_modules/**"],
      setupFiles: ["test/setup/apply-migrations.ts", "test/setup/clock.ts", "test/setup/quiet-logs.ts"],
      // A hang guard, not a timing: property tests and the all-zones quiet-hours test take seconds on a
      // loaded 2-core machine, and Vitest's 5 s default then fails a correct run.
      testTimeout: 60_000,
      // Every spy and mock is restored after each test, so no file needs its own afterEach for it.
      restoreMocks: true,
      // The Worker's JSON log lines go straight to the runtime's stdout instead of through Vitest's
      // console RPC: a queue consumer still logging after a file's last test (its messages were
      // enqueued by that test) otherwise races the file's teardown and fails a green run with
      // "EnvironmentTeardownError: Closing rpc while onUserConsoleLog was pending"
      // (vitest-dev/vitest#11153). The PHI canaries spy on console directly, so they see every line.
      // test/setup/quiet-logs.ts holds a test's lines and prints them only when it fails.
      disableConsoleIntercept: true,
    },
  };
});
