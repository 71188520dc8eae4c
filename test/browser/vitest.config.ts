import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * The browser project: the console in headless Chromium against a real `wrangler dev`, on plain Node.
 * One file, run alone: it starts its own receiver and browser.
 */
export default defineConfig({
  root,
  test: {
    include: ["test/browser/**/*.test.ts"],
    environment: "node",
    fileParallelism: false,
    // Starting wrangler dev and unpacking Chromium take a while on a shared machine.
    hookTimeout: 180_000,
    testTimeout: 60_000,
    silent: "passed-only",
  },
});
