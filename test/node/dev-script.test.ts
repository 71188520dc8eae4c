import { describe, expect, it } from "vitest";
// @ts-expect-error -- a plain .mjs script without type declarations
import { plan } from "../../scripts/dev.mjs";

describe("npm run dev / dev:tunnel wiring", () => {
  it("applies local migrations before starting wrangler dev on 8787", () => {
    expect(plan([])).toEqual([
      ["wrangler", ["d1", "migrations", "apply", "DB", "--local"], { CI: "true" }],
      ["wrangler", ["dev", "--port", "8787"], {}],
    ]);
  });

  it("passes --tunnel (npm run dev:tunnel) through to wrangler dev", () => {
    expect(plan(["--tunnel"]).at(-1)).toEqual(["wrangler", ["dev", "--port", "8787", "--tunnel"], {}]);
  });
});
