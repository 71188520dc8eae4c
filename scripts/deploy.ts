// `npm run deploy [-- --env staging|production]`: the deploy check, the remote D1 migrations, then
// `wrangler deploy`, all three for the same environment (wrangler environments share nothing, so a
// step run without the `--env` would reach another Worker's database). Stops at the first failure.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { targetEnvironment } from "./deploy-check.ts";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The commands of one deploy, in order; throws on arguments other than the environment. */
export function deploySteps(args: readonly string[]): string[][] {
  const environment = targetEnvironment(args);
  const expected = environment === null ? 0 : args.some((arg) => arg.startsWith("--env=")) ? 1 : 2;
  if (args.length !== expected || environment === "") {
    throw new Error("usage: npm run deploy [-- --env staging|production]");
  }
  const environmentArgs = environment ? ["--env", environment] : [];
  return [
    [process.execPath, path.join(here, "deploy-check.ts"), ...environmentArgs],
    ["wrangler", "d1", "migrations", "apply", "DB", "--remote", ...environmentArgs],
    ["wrangler", "deploy", ...environmentArgs],
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    for (const [command, ...args] of deploySteps(process.argv.slice(2))) {
      const result = spawnSync(command ?? "", args, { stdio: "inherit" });
      if (result.status !== 0) {
        process.exitCode = result.status ?? 1;
        break;
      }
    }
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 2;
  }
}
