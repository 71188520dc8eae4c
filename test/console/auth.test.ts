import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { generateSignedCookie } from "hono/cookie";
import { describe, expect, it, vi } from "vitest";
import { createConsole } from "../../src/console/app";
import { SESSION_COOKIE, SESSION_LIFETIME_MS, sessionSigningKey } from "../../src/console/session";
import { consoleFetch, cookiePair, signIn } from "../helpers/console";
import { ADMIN_TOKEN } from "../helpers/events";

/** The console alone on a fixed, movable clock, with `env` overridable (token rotation). */
function consoleAt(clock: { now: Date }, workerEnv: Env = env) {
  const app = new Hono().route("/console", createConsole({ now: () => clock.now }));
  return (request: Request) => Promise.resolve(app.fetch(request, workerEnv));
}

describe("console sign-in", () => {
  it("redirects a page without a session to the login form, keeping the path, and refuses a POST with 401", async () => {
    const page = await consoleFetch("/console/events?status=dead");
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe("/console/login?next=%2Fconsole%2Fevents%3Fstatus%3Ddead");
    const post = await consoleFetch("/console/logout", { form: {} });
    expect(post.status).toBe(401);
    expect((await consoleFetch("/console/patients/p1")).status).toBe(303);
  });

  it("shows a labelled login form", async () => {
    const response = await consoleFetch("/console/login");
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(html).toContain('<label for="token">Admin token</label>');
    expect(html).toContain('type="password" id="token"');
  });

  it("refuses a wrong token with 401 and no cookie", async () => {
    const response = await consoleFetch("/console/login", { form: { token: "not-the-token" } });
    expect(response.status).toBe(401);
    expect(response.headers.get("set-cookie")).toBeNull();
    expect(await response.text()).toContain("That token is not valid.");
  });

  it("sets a signed HttpOnly, SameSite=Strict, Secure session cookie scoped to /console with an 8-hour life", async () => {
    const response = await consoleFetch("/console/login", { form: { token: ADMIN_TOKEN, next: "/console/events" } });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/console/events");
    const setCookie = response.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Strict");
    expect(setCookie).toContain("Secure");
    expect(setCookie).toContain("Path=/console");
    expect(setCookie).toContain(`Max-Age=${SESSION_LIFETIME_MS / 1000}`);
    expect(setCookie).not.toContain(ADMIN_TOKEN);
  });

  it("leaves Secure off on localhost, where the dev server speaks plain http", async () => {
    const response = await consoleFetch("http://localhost:8787/console/login", {
      form: { token: ADMIN_TOKEN },
      headers: { origin: "http://localhost:8787" },
    });
    expect(response.status).toBe(303);
    expect(response.headers.get("set-cookie")).not.toContain("Secure");
  });

  it("never redirects to another site after signing in", async () => {
    for (const next of ["https://evil.example/", "//evil.example/console", "/admin/events"]) {
      const response = await consoleFetch("/console/login", { form: { token: ADMIN_TOKEN, next } });
      expect(response.headers.get("location")).toBe("/console");
    }
  });

  it("opens pages with the session, and signs out with a POST", async () => {
    const { cookie, csrf } = await signIn();
    const overview = await consoleFetch("/console", { cookie });
    expect(overview.status).toBe(200);
    expect(await overview.text()).toContain("Signed in as token:admin");
    const out = await consoleFetch("/console/logout", { cookie, form: { _csrf: csrf } });
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/console/login");
    expect(out.headers.get("set-cookie")).toMatch(new RegExp(`^${SESSION_COOKIE}=;.*Max-Age=0`));
  });

  it("refuses a tampered cookie, one signed with the raw admin token, and a well-signed one naming no stored session", async () => {
    const { cookie } = await signIn();
    const [name, value = ""] = cookie.split("=");
    const tampered = `${name}=${value.replace(/^./, (first) => (first === "e" ? "f" : "e"))}`;
    expect((await consoleFetch("/console", { cookie: tampered })).status).toBe(303);

    const sessionId = "A".repeat(43);
    const forged = cookiePair(await generateSignedCookie(SESSION_COOKIE, sessionId, ADMIN_TOKEN));
    expect((await consoleFetch("/console", { cookie: forged })).status).toBe(303);
    // Signed with the real key, but no session of that id was ever started: the server decides.
    const unknown = cookiePair(
      await generateSignedCookie(SESSION_COOKIE, sessionId, await sessionSigningKey(ADMIN_TOKEN)),
    );
    expect((await consoleFetch("/console", { cookie: unknown })).status).toBe(303);
    expect((await consoleFetch("/console", { cookie })).status).toBe(200);
  });

  it("keeps the session server-side: D1 holds a digest of the cookie's id, never the id", async () => {
    const { cookie } = await signIn();
    const sessionId = decodeURIComponent(cookie.split("=").slice(1).join("=")).split(".")[0] ?? "";
    expect(sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { results } = await env.DB.prepare(`SELECT * FROM console_sessions`).all<Record<string, unknown>>();
    expect(results.length).toBeGreaterThan(0);
    expect(JSON.stringify(results)).not.toContain(sessionId);
  });

  it("signing out revokes the session at once: a copy of the cookie no longer opens anything", async () => {
    const { cookie, csrf } = await signIn();
    const copy = cookie;
    expect((await consoleFetch("/console/events", { cookie: copy })).status).toBe(200);
    const out = await consoleFetch("/console/logout", { cookie, form: { _csrf: csrf } });
    expect(out.status).toBe(303);
    const after = await consoleFetch("/console/events", { cookie: copy });
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toContain("/console/login");
    expect((await consoleFetch("/console/logout", { cookie: copy, form: { _csrf: csrf } })).status).toBe(401);
  });

  it("ends a session 8 hours after sign-in even when used all along, whatever the cookie's Max-Age", async () => {
    const clock = { now: new Date("2031-03-04T10:00:00.000Z") };
    const fetcher = consoleAt(clock);
    const start = clock.now.getTime();
    const { cookie } = await signIn(fetcher);
    // Used every 20 minutes (inside the idle timeout) until a second before the 8 hours.
    for (let at = start + 20 * 60_000; at < start + SESSION_LIFETIME_MS; at += 20 * 60_000) {
      clock.now = new Date(at);
      expect((await consoleFetch("/console/events", { cookie }, fetcher)).status).toBe(200);
    }
    clock.now = new Date(start + SESSION_LIFETIME_MS - 1000);
    expect((await consoleFetch("/console/events", { cookie }, fetcher)).status).toBe(200);
    clock.now = new Date(start + SESSION_LIFETIME_MS);
    const expired = await consoleFetch("/console/events", { cookie }, fetcher);
    expect(expired.status).toBe(303);
    expect(expired.headers.get("location")).toContain("/console/login");
  });

  it("ends a session left unused for 30 minutes; each use starts the idle time again", async () => {
    const clock = { now: new Date("2031-03-05T10:00:00.000Z") };
    const fetcher = consoleAt(clock);
    const start = clock.now.getTime();
    const { cookie } = await signIn(fetcher);
    clock.now = new Date(start + 29 * 60_000);
    expect((await consoleFetch("/console/events", { cookie }, fetcher)).status).toBe(200);
    clock.now = new Date(start + 58 * 60_000);
    expect((await consoleFetch("/console/events", { cookie }, fetcher)).status).toBe(200);
    clock.now = new Date(start + 88 * 60_000);
    expect((await consoleFetch("/console/events", { cookie }, fetcher)).status).toBe(303);
    // Ended for good: a later request does not revive it.
    clock.now = new Date(start + 89 * 60_000);
    expect((await consoleFetch("/console/events", { cookie }, fetcher)).status).toBe(303);
  });

  it("takes the idle timeout from CONSOLE_IDLE_TIMEOUT_MINUTES, and refuses a malformed one by name", async () => {
    const clock = { now: new Date("2031-03-06T10:00:00.000Z") };
    const fetcher = consoleAt(clock, { ...env, CONSOLE_IDLE_TIMEOUT_MINUTES: "5" } as Env);
    const start = clock.now.getTime();
    const { cookie } = await signIn(fetcher);
    clock.now = new Date(start + 4 * 60_000);
    expect((await consoleFetch("/console/events", { cookie }, fetcher)).status).toBe(200);
    clock.now = new Date(start + 9 * 60_000);
    expect((await consoleFetch("/console/events", { cookie }, fetcher)).status).toBe(303);

    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const broken = consoleAt(clock, { ...env, CONSOLE_IDLE_TIMEOUT_MINUTES: "soon" } as Env);
    const response = await consoleFetch("/console/login", {}, broken);
    expect(response.status).toBe(500);
    expect(errors.mock.calls.map(String).join("\n")).toContain("CONSOLE_IDLE_TIMEOUT_MINUTES");
  });

  it("signs everyone out when ADMIN_TOKEN rotates", async () => {
    const clock = { now: new Date("2031-03-04T10:00:00.000Z") };
    const { cookie } = await signIn(consoleAt(clock));
    const rotated = consoleAt(clock, { ...env, ADMIN_TOKEN: "a-rotated-admin-token-0123456789abcdef" } as Env);
    expect((await consoleFetch("/console/events", { cookie }, rotated)).status).toBe(303);
  });
});
