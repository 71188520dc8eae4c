import { exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { adminFetch } from "../helpers/admin";
import { captureConsole } from "../helpers/phi-canary";

afterEach(() => vi.restoreAllMocks());

describe("admin responses", () => {
  it.each([
    ["a list", "/events", undefined, 200],
    ["an unknown event", "/events/evt_missing_headers", undefined, 404],
    ["an unknown admin path", "/nothing-here", undefined, 404],
    ["a bad query", "/events?limit=0", undefined, 400],
    ["a missing token", "/stats", null, 401],
  ] as const)("are Cache-Control: no-store, errors too (%s)", async (_case, path, token, status) => {
    const response = await adminFetch(path, {}, token === null ? null : undefined);
    expect(response.status).toBe(status);
    expect(response.headers.get("cache-control")).toBe("no-store");
  });
});

describe("the request id", () => {
  it("adopts a caller's X-Request-Id that is a well-formed UUID", async () => {
    const id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const response = await exports.default.fetch("https://receiver.test/health", { headers: { "x-request-id": id } });
    expect(response.headers.get("x-request-id")).toBe(id);
  });

  it.each(["not-a-uuid", "0f8fad5b-d9cb-469f-a165-70867728950e-and-more", "zebulon_canaryfield"])(
    "replaces %j with its own UUID, and never logs the offered value",
    async (offered) => {
      const capture = captureConsole();
      const response = await adminFetch("/stats", { headers: { "x-request-id": offered } });
      capture.stop();
      const used = response.headers.get("x-request-id") ?? "";
      expect(used).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(used).not.toContain(offered);
      expect(capture.output()).toContain(used);
      expect(capture.output()).not.toContain(offered);
    },
  );
});
