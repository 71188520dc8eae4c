import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "../../src/http/cursor";
import { ApiError } from "../../src/http/errors";

describe("page cursors", () => {
  it("round-trip a position, including ids outside Latin-1", () => {
    for (const position of [
      ["2026-01-15T15:00:00.000Z", "evt_1"],
      ["2026-01-15T15:00:00.000Z", "évènement-✓-🙂"],
      ["", "?&/+="],
    ]) {
      const cursor = encodeCursor(position);
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(cursor, 2)).toEqual(position);
    }
  });

  it("keep the format earlier pages used (base64url JSON, no padding)", () => {
    const legacy = btoa(JSON.stringify(["2026-01-15T15:00:00.000Z", "evt_1"]))
      .replaceAll("+", "-")
      .replaceAll("/", "_")
      .replaceAll("=", "");
    expect(encodeCursor(["2026-01-15T15:00:00.000Z", "evt_1"])).toBe(legacy);
  });

  it.each([["not base64 at all!"], [btoa("not json")], [btoa(JSON.stringify(["only one"]))], [btoa("[1,2]")]])(
    "refuse %j with the contract's 400",
    (cursor) => {
      let thrown: unknown;
      try {
        decodeCursor(cursor, 2);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ApiError);
      expect((thrown as ApiError).body()).toEqual({
        error: {
          code: "invalid_query",
          message: "The query parameters are invalid.",
          issues: [{ path: "cursor", message: "is not a cursor this API returned" }],
        },
      });
    },
  );
});
