import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { makeEvent } from "../helpers/events";

afterEach(() => vi.restoreAllMocks());

async function postWith(overrides: Record<string, unknown>) {
  const request = new Request("https://receiver.test/webhooks/novamed", {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": "test-key-current" },
    body: JSON.stringify(makeEvent("order:created")),
  });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, { ...env, ...overrides } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

describe("a missing or malformed secret", () => {
  it.each([
    ["NOVAMED_WEBHOOK_SECRET", undefined],
    ["NOVAMED_WEBHOOK_SECRET", " , "],
    ["NOVAMED_CLINIC_IDS", undefined],
    ["NOVAMED_CLINIC_IDS", "clinic-canary-7f3a9e"],
    ["NOVAMED_CLINIC_IDS", "550e8400-e29b-41d4-a716-446655440000,clinic-canary-7f3a9e"],
  ])("%s = %j gives 500 misconfigured and one log line naming the variable", async (variable, value) => {
    const errors = vi.spyOn(console, "error");
    const send = vi.spyOn(env.EVENTS, "send");
    const response = await postWith({ [variable]: value });
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(JSON.parse(body)).toMatchObject({ error: { code: "misconfigured" } });
    expect(send).not.toHaveBeenCalled();
    const lines = errors.mock.calls.map((call) => String(call[0]));
    const misconfigured = lines.filter((line) => line.includes("misconfigured"));
    expect(misconfigured).toHaveLength(1);
    expect(JSON.parse(misconfigured[0]!)).toMatchObject({ variable });
    // A malformed value is named by its variable, never echoed: neither in the log nor the response.
    for (const output of [misconfigured[0]!, body]) expect(output).not.toContain("clinic-canary");
  });
});
