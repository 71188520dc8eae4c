import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { twilioSignature } from "../../src/notify/twilio-signature";
import { adminFetch, randomClientAddress } from "../helpers/admin";
import { setClock, TEST_NOW } from "../helpers/clock";
import { consoleFetch } from "../helpers/console";
import { ADMIN_TOKEN, API_KEY, makeEvent } from "../helpers/events";

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

/**
 * Spies on everything a credential check uses (digests for constant-time comparison, HMAC for
 * Twilio's signature, the runtime's comparison) and on the limiter: a refused client must touch none.
 */
function watchComparisons() {
  const subtle = crypto.subtle as SubtleCrypto & { timingSafeEqual: (a: ArrayBuffer, b: ArrayBuffer) => boolean };
  const spies = [
    vi.spyOn(subtle, "digest"),
    vi.spyOn(subtle, "sign"),
    vi.spyOn(subtle, "timingSafeEqual"),
    vi.spyOn(env.AUTH_FAILURE_LIMITER, "limit"),
  ];
  return {
    untouched: () => {
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    },
    stop: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

async function postEvent(client: string, apiKey: string): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request("https://receiver.test/webhooks/novamed", {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": apiKey, "cf-connecting-ip": client },
      body: JSON.stringify(makeEvent("order:created")),
    }),
    env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

const TWILIO_TOKEN = "twilio-auth-token-for-lockout";
const twilioEnv = () => ({ ...env, TWILIO_AUTH_TOKEN: TWILIO_TOKEN, SMS_PROVIDER: "log" }) as Env;

async function postTwilioFrom(client: string, signature?: string): Promise<Response> {
  const url = "https://receiver.test/webhooks/twilio/inbound";
  const params = { From: "+14155550399", Body: "HELP" };
  return worker.fetch(
    new Request(url, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": signature ?? (await twilioSignature(TWILIO_TOKEN, url, params)),
        "cf-connecting-ip": client,
      },
      body: new URLSearchParams(params),
    }),
    twilioEnv(),
  );
}

describe("no guessing oracle: a refused client is refused before any comparison for the rest of the window", () => {
  it("the NovaMed edge: 429 even for the right key; another address still gets 200; a new window lets it in", async () => {
    const attacker = randomClientAddress();
    await failUntilLimited(() => postEvent(attacker, "a-wrong-key-of-enough-length-0123456789"), 401);

    const send = vi.spyOn(env.EVENTS, "send");
    const watch = watchComparisons();
    const refused = await postEvent(attacker, API_KEY);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: { code: "rate_limited" } });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    watch.untouched();
    expect(send).not.toHaveBeenCalled();
    watch.stop();

    // A valid caller at another address is never locked out by the attacker's failures.
    expect((await postEvent(randomClientAddress(), API_KEY)).status).toBe(200);

    // The refusal lasts the limiter's window (60 s), then the right key is accepted again.
    setClock(TEST_NOW + 59_000);
    expect((await postEvent(attacker, API_KEY)).status).toBe(429);
    setClock(TEST_NOW + 61_000);
    const limit = vi.spyOn(env.AUTH_FAILURE_LIMITER, "limit");
    expect((await postEvent(attacker, API_KEY)).status).toBe(200);
    expect(limit).not.toHaveBeenCalled();
  });

  it("/admin: 429 with no-store even for the valid token; the valid token from another address passes", async () => {
    const client = { "cf-connecting-ip": randomClientAddress() };
    const limited = await failUntilLimited(
      () => adminFetch("/stats", { headers: client }, "a-wrong-token-of-enough-length-0123456789"),
      401,
    );
    expect(await limited.json()).toMatchObject({ error: { code: "rate_limited" } });
    expect(limited.headers.get("cache-control")).toBe("no-store");

    const watch = watchComparisons();
    const refused = await adminFetch("/stats", { headers: client });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("cache-control")).toBe("no-store");
    watch.untouched();
    watch.stop();
    expect((await adminFetch("/stats", { headers: { "cf-connecting-ip": randomClientAddress() } })).status).toBe(200);
  });

  it("the console login: 429 even for the right token; the right token from another address signs in", async () => {
    const client = { "cf-connecting-ip": randomClientAddress() };
    await failUntilLimited(
      () => consoleFetch("/console/login", { headers: client, form: { token: "not-the-admin-token" } }),
      401,
    );
    const watch = watchComparisons();
    const refused = await consoleFetch("/console/login", { headers: client, form: { token: ADMIN_TOKEN } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("set-cookie")).toBeNull();
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    watch.untouched();
    watch.stop();
    const elsewhere = { "cf-connecting-ip": randomClientAddress() };
    expect((await consoleFetch("/console/login", { headers: elsewhere, form: { token: ADMIN_TOKEN } })).status).toBe(
      303,
    );
  });

  it("the Twilio webhooks: 429 even for a valid signature; a valid signature from another address is answered", async () => {
    const attacker = randomClientAddress();
    const limited = await failUntilLimited(() => postTwilioFrom(attacker, "bm90IGEgc2lnbmF0dXJl"), 403);
    expect(await limited.json()).toMatchObject({ error: { code: "rate_limited" } });

    const watch = watchComparisons();
    const refused = await postTwilioFrom(attacker, "c2lnbmF0dXJlLW5vdC1jb21wdXRlZA==");
    expect(refused.status).toBe(429);
    watch.untouched();
    watch.stop();
    expect((await postTwilioFrom(attacker)).status).toBe(429);
    expect((await postTwilioFrom(randomClientAddress())).status).toBe(200);
  });
});

describe("valid requests never consume the limiter", () => {
  it("the edge, /admin, the console login and the Twilio webhooks", async () => {
    const limit = vi.spyOn(env.AUTH_FAILURE_LIMITER, "limit");
    const client = randomClientAddress();
    for (let count = 0; count < 15; count += 1) {
      expect((await postEvent(client, API_KEY)).status).toBe(200);
      expect((await adminFetch("/stats", { headers: { "cf-connecting-ip": client } })).status).toBe(200);
      const signIn = await consoleFetch("/console/login", {
        headers: { "cf-connecting-ip": client },
        form: { token: ADMIN_TOKEN },
      });
      expect(signIn.status).toBe(303);
      expect((await postTwilioFrom(client)).status).toBe(200);
    }
    expect(limit).not.toHaveBeenCalled();
  });
});
