import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { ADMIN_TOKEN, API_KEY, makeEvent } from "../helpers/events";

async function postWith(overrides: Record<string, unknown>, apiKey = API_KEY) {
  const request = new Request("https://receiver.test/webhooks/novamed", {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": apiKey },
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

async function fetchWith(path: string, overrides: Record<string, unknown>, headers: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(`https://receiver.test${path}`, { headers }),
    { ...env, ...overrides } as Env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

const STRONG = "a7c3e9f1-strong-rotation-key-4b8d2e6f0c";

describe("a webhook key weaker than the key rule", () => {
  it.each([
    ["one character", "k"],
    ["31 characters", "0123456789abcdef0123456789abcde"],
    ["the published example value", "dev-webhook-secret"],
    ["the old test value", "test-key-current"],
    ["one repeated character", "x".repeat(64)],
    ["fewer than 8 distinct characters", "abcdefg".repeat(6)],
    ["a weak key beside a strong one (rotation)", `${STRONG},short-key`],
  ])("%s: 500 misconfigured, nothing accepted, even with that very key", async (_case, secret) => {
    const send = vi.spyOn(env.EVENTS, "send");
    for (const presented of secret.split(",")) {
      const response = await postWith({ NOVAMED_WEBHOOK_SECRET: secret }, presented);
      expect(response.status).toBe(500);
      expect(await response.json()).toMatchObject({ error: { code: "misconfigured" } });
    }
    expect(send).not.toHaveBeenCalled();
  });

  it("the Worker still answers /health, and /admin/health names the variable, never the value", async () => {
    const weak = { NOVAMED_WEBHOOK_SECRET: "dev-webhook-secret" };
    expect((await fetchWith("/health", weak)).status).toBe(200);
    const health = await fetchWith("/admin/health", weak, {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      "cf-connecting-ip": "198.51.100.71",
    });
    expect(health.status).toBe(200);
    const body = await health.text();
    expect(JSON.parse(body)).toMatchObject({
      status: "misconfigured",
      problems: [expect.objectContaining({ variable: "NOVAMED_WEBHOOK_SECRET" })],
    });
    expect(body).not.toContain("dev-webhook-secret");
  });

  it("a strong rotation pair is accepted", async () => {
    const response = await postWith({ NOVAMED_WEBHOOK_SECRET: `${STRONG},${API_KEY}` }, STRONG);
    expect(response.status).toBe(200);
  });
});
