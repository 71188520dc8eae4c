import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const wranglerCli = path.join(root, "node_modules", "wrangler", "bin", "wrangler.js");

/** The secrets the browser tests run the receiver with (never the developer's .dev.vars). */
export const TEST_SECRETS = {
  NOVAMED_WEBHOOK_SECRET: "browser-webhook-key-9e4f1a7c3b2d8e60",
  NOVAMED_CLINIC_IDS: "550e8400-e29b-41d4-a716-446655440000",
  ADMIN_TOKEN: "browser-admin-token-0123456789abcdef",
  SMS_PROVIDER: "log",
  // Only to sign the patient's text a test sends to /webhooks/twilio/inbound; messages still go to the log.
  TWILIO_AUTH_TOKEN: "browser-twilio-token-5c1e9a0b7d3f2468",
  EMAIL_PROVIDER: "log",
} as const;

export interface Receiver {
  url: string;
  /** Everything wrangler printed, for a failing test's report. */
  output: () => string;
  stop: () => Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/**
 * A throwaway copy of the configuration: the project's wrangler.toml with absolute paths, in a
 * temporary directory whose own `.dev.vars` holds the test secrets. Wrangler reads `.dev.vars` beside
 * the configuration, so the developer's `.dev.vars` and `.wrangler` state are never read or written.
 */
function throwawayConfig(directory: string): string {
  const config = readFileSync(path.join(root, "wrangler.toml"), "utf8")
    .replace(/^main = ".*"$/m, `main = ${JSON.stringify(path.join(root, "src", "index.ts"))}`)
    .replace(/^migrations_dir = ".*"$/m, `migrations_dir = ${JSON.stringify(path.join(root, "migrations"))}`);
  const configPath = path.join(directory, "wrangler.toml");
  writeFileSync(configPath, config);
  writeFileSync(
    path.join(directory, ".dev.vars"),
    Object.entries(TEST_SECRETS)
      .map(([name, value]) => `${name}=${value}`)
      .join("\n"),
  );
  return configPath;
}

async function waitForHealth(url: string, child: ChildProcess, output: () => string): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${output()}`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Applies the migrations to a fresh local database and starts `wrangler dev` on a free port. */
export async function startReceiver(): Promise<Receiver> {
  const directory = mkdtempSync(path.join(tmpdir(), "novamed-browser-"));
  const configPath = throwawayConfig(directory);
  const persistTo = path.join(directory, "state");
  const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };
  const migrate = spawnSync(
    process.execPath,
    [wranglerCli, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo, "-c", configPath],
    { cwd: directory, env, encoding: "utf8" },
  );
  if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);

  const [port, inspectorPort] = [await freePort(), await freePort()];
  let log = "";
  const child = spawn(
    process.execPath,
    [
      wranglerCli,
      "dev",
      "-c",
      configPath,
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      "--inspector-port",
      String(inspectorPort),
      "--persist-to",
      persistTo,
      "--show-interactive-dev-session=false",
      // Exposes /__scheduled, so a test fires the 5-minute cron (the lifecycle watch) as docs/watch.md shows.
      "--test-scheduled",
    ],
    { cwd: directory, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  const url = `http://localhost:${port}`;
  const output = () => log;
  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      process.kill(-child.pid, "SIGTERM"); // the process group we started: wrangler and its workerd
      await exited;
    }
    rmSync(directory, { recursive: true, force: true });
  };
  try {
    await waitForHealth(url, child, output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, output, stop };
}
