import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminFetch } from "../helpers/admin";
import { auditRowsOf } from "../helpers/audit";
import { uniqueId } from "../helpers/events";
import { captureConsole } from "../helpers/phi-canary";

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
  it("is always the Worker's own; a caller's UUID is logged beside it as the correlation id", async () => {
    const id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const capture = captureConsole();
    const response = await exports.default.fetch("https://receiver.test/health", { headers: { "x-request-id": id } });
    capture.stop();
    const used = response.headers.get("x-request-id") ?? "";
    expect(used).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(used).not.toBe(id);
    const line = capture
      .output()
      .split("\n")
      .find((entry) => entry.includes(`"request_id":"${used}"`));
    expect(JSON.parse(line ?? "{}")).toMatchObject({ request_id: used, correlation_id: id });
  });

  it("never becomes the audit key: the audit row carries the Worker's id", async () => {
    const offered = crypto.randomUUID();
    const patientId = uniqueId("pat");
    const response = await adminFetch(`/patients/${patientId}`, { headers: { "x-request-id": offered } });
    expect(response.status).toBe(404);
    const rows = await auditRowsOf("patient", patientId);
    expect(rows.map((row) => row.request_id)).toEqual([response.headers.get("x-request-id")]);
    expect(rows[0]?.request_id).not.toBe(offered);
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
