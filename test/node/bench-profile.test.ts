import { describe, expect, it } from "vitest";
import { type CpuProfile, moduleOfLine, summarize } from "../../bench/profile.ts";

const BUNDLE = [
  "// node_modules/hono/dist/hono.js", // line 0
  "function route() {}",
  "// src/db/events.ts", // line 2
  "function claim() {}",
  "function complete() {}",
].join("\n");

/** A profile of four functions: samples land on node ids, each taking its time delta (µs). */
function profile(samples: [number, number][]): CpuProfile {
  const frame = (functionName: string, url: string, lineNumber: number) => ({ functionName, url, lineNumber });
  return {
    nodes: [
      { id: 1, callFrame: frame("(root)", "", -1), children: [2, 3, 4, 5, 6, 7] },
      { id: 2, callFrame: frame("route", "bundle/index.mjs", 1) },
      { id: 3, callFrame: frame("claim", "bundle/index.mjs", 3) },
      { id: 4, callFrame: frame("toJson", "cloudflare-internal:d1-api", 615) },
      { id: 5, callFrame: frame("(idle)", "", -1) },
      { id: 6, callFrame: frame("(program)", "", -1) },
      { id: 7, callFrame: frame("(garbage collector)", "", -1) },
    ],
    startTime: 0,
    endTime: samples.reduce((sum, [, delta]) => sum + delta, 0),
    samples: samples.map(([node]) => node),
    timeDeltas: samples.map(([, delta]) => delta),
  };
}

describe("bench --profile summary", () => {
  it("maps a bundle line to the module esbuild's comment above it names", () => {
    const moduleOf = moduleOfLine(BUNDLE);
    expect(moduleOf(1)).toBe("hono");
    expect(moduleOf(3)).toBe("src/db/events.ts");
    expect(moduleOf(4)).toBe("src/db/events.ts");
  });

  it("adds self time by function and module, leaving idle and native-or-waiting time out of JS", () => {
    const summary = summarize(
      profile([
        [3, 4000],
        [3, 2000],
        [2, 1000],
        [4, 3000],
        [5, 50_000],
        [6, 7000],
        [7, 500],
      ]),
      moduleOfLine(BUNDLE),
    );
    expect(summary.js_ms).toBe(10);
    expect(summary.program_ms).toBe(7);
    expect(summary.gc_ms).toBe(0.5);
    expect(summary.top_self[0]).toEqual({ function: "claim (src/db/events.ts)", line: 4, ms: 6 });
    expect(summary.by_module).toEqual([
      { module: "src/db/events.ts", ms: 6 },
      { module: "cloudflare-internal:d1-api", ms: 3 },
      { module: "hono", ms: 1 },
      { module: "(garbage collector)", ms: 0.5 },
    ]);
  });
});
