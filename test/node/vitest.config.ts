import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The Node test project: the developer tools (CLI, simulator, dev script), run on plain Node. */
export default defineConfig({
  root,
  test: {
    include: ["test/node/**/*.test.ts"],
    environment: "node",
    silent: "passed-only",
    // A hang guard, not a timing: tests that start real processes (the simulator, the dev script) take
    // seconds on a loaded 2-core machine, and Vitest's 5 s default then fails a correct run.
    testTimeout: 60_000,
  },
});
