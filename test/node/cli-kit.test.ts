import { parseArgs } from "node:util";
import { describe, expect, it } from "vitest";
import {
  firstLine,
  internalErrorLine,
  isUuid,
  UsageError,
  usageErrorFromParseArgs,
  usageErrorLine,
} from "../../tools/cli-kit.ts";
import { runTool } from "./fake-server.ts";

/** The error `node:util` parseArgs really throws for `argv`, so the trimming is tested on Node's own text. */
function parseArgsError(argv: string[], allowPositionals = false): unknown {
  try {
    parseArgs({ args: argv, options: { count: { type: "string" } }, allowPositionals, strict: true });
  } catch (error) {
    return error;
  }
  throw new Error(`parseArgs accepted ${argv.join(" ")}`);
}

describe("usageErrorFromParseArgs", () => {
  it("keeps the first sentence of an unknown-option message, without the positional advice", () => {
    // With positionals allowed (as in `npm run novamed`), Node's message goes on with advice.
    const raw = parseArgsError(["--bogus"], true);
    expect(String((raw as Error).message)).toContain("positional argument");
    const error = usageErrorFromParseArgs(raw, "register");
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toBe("Unknown option '--bogus'");
    expect(error.command).toBe("register");
  });

  it("keeps a one-sentence message whole and drops its full stop", () => {
    const error = usageErrorFromParseArgs(new Error("Option '--count <value>' argument missing."));
    expect(error.message).toBe("Option '--count <value>' argument missing");
    expect(error.command).toBeUndefined();
  });

  it("reads Node's real message for a missing value", () => {
    expect(usageErrorFromParseArgs(parseArgsError(["--count"])).message).toMatch(/^Option '--count <value>'/);
  });
});

describe("usageErrorLine", () => {
  it("points at the tool's help when no command is known", () => {
    expect(usageErrorLine("simulate", new UsageError("--count must be a number"))).toBe(
      "simulate: --count must be a number (see `npm run simulate -- --help`)",
    );
  });

  it("points at the command's help when the error names one", () => {
    expect(usageErrorLine("novamed", new UsageError("missing --url", "register"))).toBe(
      "novamed: missing --url (see `npm run novamed -- register --help`)",
    );
  });
});

describe("internalErrorLine and firstLine", () => {
  it("prints one line of a multi-line message, never a stack", () => {
    const error = new Error("socket hang up\n    at Socket.onclose (node:net:1:1)");
    expect(internalErrorLine("novamed", error)).toBe("novamed: internal error: socket hang up");
  });

  it("accepts thrown values that are not errors", () => {
    expect(firstLine("plain string\nsecond")).toBe("plain string");
    expect(firstLine(42)).toBe("42");
  });
});

describe("isUuid", () => {
  it("accepts the guide's clinic id in either case and refuses near misses", () => {
    expect(isUuid("550e8400-e29b-41d4-a716-446655440000")).toBe(true);
    expect(isUuid("550E8400-E29B-41D4-A716-446655440000")).toBe(true);
    expect(isUuid("550e8400e29b41d4a716446655440000")).toBe(false);
    expect(isUuid(" 550e8400-e29b-41d4-a716-446655440000")).toBe(false);
    expect(isUuid("550e8400-e29b-41d4-a716-44665544000g")).toBe(false);
  });
});

describe("runAsEntryPoint", () => {
  it("gives both tools the same exit code and one-line message for a usage error", async () => {
    const [novamed, simulate] = await Promise.all([
      runTool("tools/novamed/cli.ts", ["register", "--bogus"]),
      runTool("tools/simulator/cli.ts", ["--bogus"]),
    ]);
    expect(novamed.code).toBe(2);
    expect(novamed.stderr).toBe("novamed: Unknown option '--bogus' (see `npm run novamed -- register --help`)\n");
    expect(simulate.code).toBe(2);
    expect(simulate.stderr).toBe("simulate: Unknown option '--bogus' (see `npm run simulate -- --help`)\n");
    expect(novamed.stdout + simulate.stdout).toBe("");
  });
});
