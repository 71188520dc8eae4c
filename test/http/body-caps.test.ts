import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/http/app";
import { FORM_MAX_BODY_BYTES } from "../../src/http/middleware/body-cap";
import { RESEND_MAX_BODY_BYTES } from "../../src/http/routes/resend";
import { TWILIO_MAX_BODY_BYTES } from "../../src/http/routes/twilio";
import { UNSUBSCRIBE_MAX_BODY_BYTES } from "../../src/http/routes/unsubscribe";
import { MAX_WEBHOOK_BODY_BYTES } from "../../src/http/routes/webhooks";
import worker from "../../src/index";
import { randomClientAddress } from "../helpers/admin";
import { API_KEY } from "../helpers/events";

/**
 * Every route a stranger can send a body to reads at most its cap: the routes that run before
 * authentication (the console's sign-in, Twilio's webhooks) answer 413 `payload_too_large` once the
 * cap is passed, declared or counted; every other route refuses the stranger before reading any of
 * the body. The routes come from the app itself, so a new public route without a cap fails here.
 */

/** The routes that read a body before authenticating, with their caps. */
const PRE_AUTH_CAPS: Record<string, number> = {
  "POST /console/login": FORM_MAX_BODY_BYTES,
  "POST /webhooks/twilio/inbound": TWILIO_MAX_BODY_BYTES,
  "POST /webhooks/twilio/status": TWILIO_MAX_BODY_BYTES,
  "POST /webhooks/resend": RESEND_MAX_BODY_BYTES,
  "POST /u/:token": UNSUBSCRIBE_MAX_BODY_BYTES,
};

const CHUNK_BYTES = 1024;
const OFFERED_BYTES = 1024 * 1024;

/** Every route of the app that takes a body, as `METHOD /path`, once each. */
function bodyRoutes(): string[] {
  const routes = app.routes
    .filter((route) => !["ALL", "GET", "HEAD", "OPTIONS"].includes(route.method))
    .map((route) => `${route.method} ${route.path}`);
  return [...new Set(routes)];
}

/** A 1 MiB body served in 1 KiB chunks on demand, counting what the Worker pulled. */
function countedBody(): { body: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  const chunk = new Uint8Array(CHUNK_BYTES).fill(0x61);
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (pulled >= OFFERED_BYTES) return controller.close();
        pulled += CHUNK_BYTES;
        controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
  return { body, pulled: () => pulled };
}

async function strangerPost(route: string, init: { body: BodyInit; headers?: Record<string, string> }) {
  const [method, pattern] = route.split(" ") as [string, string];
  const path = pattern.replace(/:[a-z_]+/g, "x").replace(/\*/g, "x");
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(`https://receiver.test${path}`, {
      method,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: "https://receiver.test",
        "cf-connecting-ip": randomClientAddress(),
        ...init.headers,
      },
      body: init.body,
    }),
    { ...env, TWILIO_AUTH_TOKEN: "twilio-auth-token-for-body-caps" } as Env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

describe("body caps on every route a stranger can post to", () => {
  const routes = bodyRoutes();

  it("the app's own route list includes every capped pre-auth route", () => {
    for (const route of Object.keys(PRE_AUTH_CAPS)) expect(routes).toContain(route);
    expect(routes.length).toBeGreaterThan(Object.keys(PRE_AUTH_CAPS).length);
  });

  it.each(routes)("%s reads no more of a stranger's streamed 1 MiB than its cap", async (route) => {
    const { body, pulled } = countedBody();
    const response = await strangerPost(route, { body });
    const cap = PRE_AUTH_CAPS[route];
    if (cap === undefined) {
      // Authentication first: refused before the body is read.
      expect([401, 403]).toContain(response.status);
      expect(pulled()).toBeLessThanOrEqual(CHUNK_BYTES);
    } else {
      expect(response.status).toBe(413);
      expect(await response.json()).toMatchObject({ error: { code: "payload_too_large" } });
      expect(pulled()).toBeLessThanOrEqual(cap + 2 * CHUNK_BYTES);
    }
  });

  it.each(Object.entries(PRE_AUTH_CAPS))("%s refuses a declared length over %i bytes unread", async (route, cap) => {
    const { body, pulled } = countedBody();
    const response = await strangerPost(route, { body, headers: { "content-length": String(cap + 1) } });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: "payload_too_large" } });
    expect(pulled()).toBeLessThanOrEqual(CHUNK_BYTES);
  });

  it("the console's sign-in still reads a form under its cap", async () => {
    const response = await strangerPost("POST /console/login", {
      body: new URLSearchParams({ token: "not-the-admin-token", padding: "p".repeat(FORM_MAX_BODY_BYTES - 200) }),
    });
    expect(response.status).toBe(401);
  });

  it("the NovaMed edge caps an authenticated body at 64 KiB", async () => {
    const { body, pulled } = countedBody();
    const response = await strangerPost("POST /webhooks/novamed", {
      body,
      headers: { "content-type": "application/json", "x-api-key": API_KEY },
    });
    expect(response.status).toBe(413);
    expect(pulled()).toBeLessThanOrEqual(MAX_WEBHOOK_BODY_BYTES + 2 * CHUNK_BYTES);
  });
});
