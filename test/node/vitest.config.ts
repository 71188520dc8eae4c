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
  },
});
