import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    // Types `exports.default` from "cloudflare:workers" as the Worker's own default export.
    interface GlobalProps {
      mainModule: typeof import("../src/index");
    }
    // Test-only bindings, added by test/vitest.config.ts.
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
