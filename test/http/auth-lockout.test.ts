import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { adminFetch } from "../helpers/admin";
import { consoleFetch } from "../helpers/console";
import { ADMIN_TOKEN } from "../helpers/events";

afterEach(() => vi.restoreAllMocks());

/**
 * The limiter counts 10 failures per client in fixed one-minute windows of real time (not ours to
 * clock). 21 attempts put at least 11 into one window even across a window boundary, so a 429 must
 * come, and only after plain failures.
 */
async function failUntilLimited(attempt: () => Promise<Response>, failureStatus: number): Promise<Response> {
  const statuses: number[] = [];
  for (let count = 0; count < 21; count += 1) {
    const response = await attempt();
    statuses.push(response.status);
    if (response.status === 429) {
      expect(statuses.slice(0, -1).every((status) => status === failureStatus)).toBe(true);
      expect(statuses.length).toBeGreaterThanOrEqual(11);
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
      return response;
    }
    await response.arrayBuffer();
  }
  throw new Error(`never limited: ${statuses.join(",")}`);
}

describe("lockout after repeated failed authentication", () => {
  it("/admin: 429 rate_limited with Retry-After and no-store; the valid token still passes from that client", async () => {
    const client = { "cf-connecting-ip": "203.0.113.131" };
    const limited = await failUntilLimited(
      () => adminFetch("/stats", { headers: client }, "a-wrong-token-of-enough-length-0123456789"),
      401,
    );
    expect(await limited.json()).toMatchObject({ error: { code: "rate_limited" } });
    expect(limited.headers.get("cache-control")).toBe("no-store");
    expect((await adminFetch("/stats", { headers: client })).status).toBe(200);
  });

  it("/admin never consults the limiter for a valid caller", async () => {
    const limit = vi.spyOn(env.AUTH_FAILURE_LIMITER, "limit");
    for (let count = 0; count < 15; count += 1) {
      expect((await adminFetch("/stats", { headers: { "cf-connecting-ip": "203.0.113.132" } })).status).toBe(200);
    }
    expect(limit).not.toHaveBeenCalled();
  });

  it("the console login: 429 with Retry-After; the right token still signs in", async () => {
    const client = { "cf-connecting-ip": "203.0.113.133" };
    await failUntilLimited(
      () => consoleFetch("/console/login", { headers: client, form: { token: "not-the-admin-token" } }),
      401,
    );
    const signIn = await consoleFetch("/console/login", { headers: client, form: { token: ADMIN_TOKEN } });
    expect(signIn.status).toBe(303);
  });

  it("the Twilio webhooks: 429 after repeated bad signatures", async () => {
    const twilioEnv = { ...env, TWILIO_AUTH_TOKEN: "twilio-auth-token-for-lockout" } as Env;
    const limited = await failUntilLimited(
      async () =>
        worker.fetch(
          new Request("https://receiver.test/webhooks/twilio/inbound", {
            method: "POST",
            headers: {
              "content-type": "application/x-www-form-urlencoded",
              "x-twilio-signature": "bm90IGEgc2lnbmF0dXJl",
              "cf-connecting-ip": "203.0.113.134",
            },
            body: new URLSearchParams({ From: "+14155550399", Body: "STOP" }),
          }),
          twilioEnv,
        ),
      403,
    );
    expect(await limited.json()).toMatchObject({ error: { code: "rate_limited" } });
  });
});
