import { readFileSync } from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { API_KEY_FLAG_WARNING } from "../../tools/novamed/args.ts";
import { main } from "../../tools/novamed/cli.ts";
import { EXIT } from "../../tools/novamed/outcome.ts";
import { promptHidden } from "../../tools/novamed/prompt.ts";
import { capture, ROOT } from "./fake-server.ts";

const API_KEY = "nm_test_CANARY_prompted_key_81c3";
const CLINIC_ID = "550e8400-e29b-41d4-a716-446655440000";
const ARGS = ["register", "--url", "https://receiver.example.com/webhooks/novamed", "--clinic-id", CLINIC_ID];
const REGISTER_RESPONSE = readFileSync(path.join(ROOT, "test/fixtures/register-response.json"), "utf8");

/** Runs the CLI with a fetch that records the key it was given and answers NovaMed's success. */
async function runCli(
  argv: string[],
  env: Record<string, string>,
  promptSecret?: (question: string) => Promise<string | null>,
) {
  const out = capture();
  const keys: (string | null)[] = [];
  const fetchStub = (async (_input: string | URL | Request, init?: RequestInit) => {
    keys.push(new Headers(init?.headers).get("x-api-key"));
    return new Response(REGISTER_RESPONSE, { status: 200, headers: { "content-type": "application/json" } });
  }) as typeof fetch;
  const prompts: string[] = [];
  const code = await main(argv, env, {
    ...out.io,
    fetch: fetchStub,
    promptSecret: promptSecret
      ? (question) => {
          prompts.push(question);
          return promptSecret(question);
        }
      : undefined,
  });
  return { code, keys, prompts, stdout: out.stdout, stderr: out.stderr };
}

describe("where the NovaMed CLI takes its API key from", () => {
  it("NOVAMED_API_KEY, without a prompt or a warning", async () => {
    const result = await runCli(ARGS, { NOVAMED_API_KEY: API_KEY }, async () => "never-asked");
    expect(result.code).toBe(EXIT.ok);
    expect(result.keys).toEqual([API_KEY]);
    expect(result.prompts).toEqual([]);
    expect(result.stderr.join("\n")).not.toContain("warning");
  });

  it("a hidden prompt when neither the variable nor the flag gives one", async () => {
    const result = await runCli(ARGS, {}, async () => ` ${API_KEY} `);
    expect(result.code).toBe(EXIT.ok);
    expect(result.prompts).toEqual(["NovaMed API key (not shown): "]);
    expect(result.keys).toEqual([API_KEY]);
    expect([...result.stdout, ...result.stderr].join("\n")).not.toContain(API_KEY);
  });

  it("a usage error naming NOVAMED_API_KEY when there is no terminal to ask on", async () => {
    const result = await runCli(ARGS, {}, async () => null);
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr[0]).toContain("NOVAMED_API_KEY");
    expect(result.keys).toEqual([]);
  });

  it("--api-key still works, with a warning that other users of the machine can see it", async () => {
    const result = await runCli([...ARGS, "--api-key", API_KEY], {}, async () => "never-asked");
    expect(result.code).toBe(EXIT.ok);
    expect(result.keys).toEqual([API_KEY]);
    expect(result.prompts).toEqual([]);
    expect(result.stderr[0]).toBe(`novamed: warning: ${API_KEY_FLAG_WARNING}`);
    expect(API_KEY_FLAG_WARNING).toMatch(/visible to other users of this machine/);
    expect(result.stderr.join("\n")).not.toContain(API_KEY);
  });
});

/** A fake terminal: a stream with isTTY and a raw-mode switch that records its changes. */
function fakeTerminal() {
  const stream = new PassThrough() as PassThrough & { isTTY: boolean; setRawMode: (mode: boolean) => void };
  const modes: boolean[] = [];
  stream.isTTY = true;
  stream.setRawMode = (mode) => {
    modes.push(mode);
  };
  return { stream, modes };
}

describe("the hidden prompt", () => {
  it("reads up to Enter in raw mode, echoes nothing typed, honours backspace, and restores the terminal", async () => {
    const { stream, modes } = fakeTerminal();
    const written: string[] = [];
    const answer = promptHidden("Key: ", stream, { write: (text: string) => written.push(text) });
    stream.write("secret-kez\u007fy\r");
    expect(await answer).toBe("secret-key");
    expect(written.join("")).toBe("Key: \n");
    expect(modes).toEqual([true, false]);
  });

  it("gives null on Ctrl-C, and without a terminal", async () => {
    const { stream } = fakeTerminal();
    const cancelled = promptHidden("Key: ", stream, { write: () => true });
    stream.write("abc\u0003");
    expect(await cancelled).toBeNull();
    const notATerminal = new PassThrough();
    expect(await promptHidden("Key: ", notATerminal, { write: () => true })).toBeNull();
  });
});
