import { describe, expect, it } from "vitest";
import { lazy } from "../../src/lazy.ts";

describe("lazy", () => {
  it("builds nothing until the first call, then returns the value built that first time", () => {
    let builds = 0;
    const value = lazy(() => ({ built: ++builds }));
    expect(builds).toBe(0);
    const first = value();
    expect(value()).toBe(first);
    expect(first).toEqual({ built: 1 });
    expect(builds).toBe(1);
  });

  it("caches a falsy value too", () => {
    let builds = 0;
    const value = lazy(() => {
      builds += 1;
      return 0;
    });
    expect([value(), value()]).toEqual([0, 0]);
    expect(builds).toBe(1);
  });

  it("builds again after a build that threw, so a transient failure is not cached", () => {
    let builds = 0;
    const value = lazy(() => {
      builds += 1;
      if (builds === 1) throw new Error("first build fails");
      return "built";
    });
    expect(() => value()).toThrow("first build fails");
    expect(value()).toBe("built");
  });
});
