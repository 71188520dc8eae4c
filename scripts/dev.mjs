#!/usr/bin/env node
// `npm run dev` / `npm run dev:tunnel`: a local receiver with no Cloudflare account and no network.
// 1. creates .dev.vars from .dev.vars.example when missing (never overwrites one);
// 2. applies D1 migrations to the local database;
// 3. starts `wrangler dev` on port 8787 (with `--tunnel` for `npm run dev:tunnel`), passing on any
//    further arguments (`npm run dev -- --port 9000`).
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);

/** The steps this script runs, exported so tests can check the wiring without starting wrangler. */
export function plan(extraArgs) {
  return [
    // CI=true: wrangler applies local migrations without asking for confirmation.
    ["wrangler", ["d1", "migrations", "apply", "DB", "--local"], { CI: "true" }],
    ["wrangler", ["dev", "--port", "8787", ...extraArgs], {}],
  ];
}

function ensureDevVars() {
  const target = join(root, ".dev.vars");
  if (existsSync(target)) return;
  copyFileSync(join(root, ".dev.vars.example"), target);
  console.log("Created .dev.vars from .dev.vars.example (local secrets; never committed).");
}

function run(command, commandArgs, extraEnv) {
  const result = spawnSync(command, commandArgs, {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...extraEnv },
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  ensureDevVars();
  for (const [command, commandArgs, extraEnv] of plan(args)) run(command, commandArgs, extraEnv);
}
