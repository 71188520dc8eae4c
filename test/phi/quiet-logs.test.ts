import { describe, expect, it, vi } from "vitest";
import { log } from "../../src/log";
import { holdConsole } from "../helpers/log-buffer";

describe("the Worker's log lines in tests (test/setup/quiet-logs.ts)", () => {
  it("are held, not written, until flushed; a flush writes them once, in order, through the original console", () => {
    const written: string[] = [];
    const target = {
      log: (...args: unknown[]) => written.push(`log ${args.join(" ")}`),
      info: (...args: unknown[]) => written.push(`info ${args.join(" ")}`),
      warn: (...args: unknown[]) => written.push(`warn ${args.join(" ")}`),
      error: (...args: unknown[]) => written.push(`error ${args.join(" ")}`),
      debug: (...args: unknown[]) => written.push(`debug ${args.join(" ")}`),
    };
    const hold = holdConsole(target);
    target.log("first");
    target.error("second", 2);
    expect(written).toEqual([]);
    expect(hold.held()).toEqual([
      ["log", "first"],
      ["error", "second", 2],
    ]);
    hold.flush();
    expect(written).toEqual(["log first", "error second 2"]);
    hold.flush();
    target.warn("dropped");
    hold.clear();
    hold.flush();
    expect(written).toEqual(["log first", "error second 2"]);
    hold.restore();
    target.info("direct");
    expect(written.at(-1)).toBe("info direct");
  });

  it("still reach a spy on console (the PHI canaries and log assertions)", () => {
    const lines: string[] = [];
    vi.spyOn(console, "warn").mockImplementation((line: string) => lines.push(line));
    log.warn("quiet-logs check", { event_id: "evt_quiet" });
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      { level: "warn", message: "quiet-logs check", event_id: "evt_quiet" },
    ]);
  });
});
