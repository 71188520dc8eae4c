import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { readAdminIdentity, readConsoleSessionSettings } from "../config/admin";
import { deleteConsoleSession, insertConsoleSession, touchConsoleSession } from "../db/console-sessions";
import { ACCESS_ASSERTION_HEADER, verifyAccessAssertion } from "../http/identity";
import { failedAuthenticationThrottled } from "../http/middleware/auth-failure";
import { sha256Hex } from "../sha256";
import type { ConsoleApp } from "./types";

/**
 * Console sessions of the token sign-in, kept server-side in D1 (`console_sessions`): the cookie
 * holds a random session id (signed with a key derived from `ADMIN_TOKEN`), the row who signed in,
 * the CSRF token, and when it was created and last used. So signing out revokes the session at once
 * (a copied cookie dies with it), a session unused for `CONSOLE_IDLE_TIMEOUT_MINUTES` (default 30)
 * ends, and none outlives {@link SESSION_LIFETIME_MS}, whatever the browser does with the cookie.
 * Behind Cloudflare Access there are no sessions: the assertion is verified on every request, and
 * the token sign-in is off.
 */

export const SESSION_COOKIE = "console_session";
export const SESSION_LIFETIME_MS = 8 * 60 * 60 * 1000;
/** Where Cloudflare Access ends its own session (on the application's hostname). */
export const ACCESS_LOGOUT_PATH = "/cdn-cgi/access/logout";
interface Session {
  actor: string;
  csrf: string;
}

const encoder = new TextEncoder();
const keyCache = new Map<string, Promise<ArrayBuffer>>();

/**
 * The cookie-signing key: HMAC-SHA-256 of a fixed label under `ADMIN_TOKEN`. The token itself never
 * signs anything, and rotating it changes the key, which signs every session out.
 */
export function sessionSigningKey(adminToken: string): Promise<ArrayBuffer> {
  let key = keyCache.get(adminToken);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", encoder.encode(adminToken), { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
      .then((hmac) => crypto.subtle.sign("HMAC", hmac, encoder.encode("novamed-console-session-v1")));
    keyCache.clear(); // one token at a time: a rotated token's key is never needed again
    keyCache.set(adminToken, key);
  }
  return key;
}

/** `Secure` everywhere but plain-http local development, where browsers would drop the cookie. */
function isLocalhost(c: Context): boolean {
  const host = new URL(c.req.url).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

function randomToken(length = 24): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "");
}

/** A session id as the cookie carries it: 32 random bytes, base64url. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** The stored form of a session id: its hex SHA-256. */
function sessionHash(sessionId: string): Promise<string> {
  return sha256Hex(sessionId);
}

/** True when the console's token sign-in is on: `ADMIN_TOKEN` set and Cloudflare Access not configured. */
export function tokenSignInEnabled(env: Env): boolean {
  const { token, access } = readAdminIdentity(env);
  return token !== null && access === null;
}

/** Starts a session for `actor` at `now`: its row in D1, and the cookie naming it. */
export async function startSession(c: Context<ConsoleApp>, actor: string, now: Date): Promise<void> {
  const { token } = readAdminIdentity(c.env);
  if (token === null || !tokenSignInEnabled(c.env)) throw new Error("console sessions need the token sign-in");
  const sessionId = randomToken(32);
  await insertConsoleSession(c.env.DB, {
    sessionHash: await sessionHash(sessionId),
    actor,
    csrf: randomToken(),
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + SESSION_LIFETIME_MS).toISOString(),
  });
  await setSignedCookie(c, SESSION_COOKIE, sessionId, await sessionSigningKey(token), {
    path: "/console",
    httpOnly: true,
    sameSite: "Strict",
    secure: !isLocalhost(c),
    maxAge: SESSION_LIFETIME_MS / 1000,
  });
}

/** The session id of the request's cookie when its signature holds; null otherwise. */
async function sessionIdOf(c: Context<ConsoleApp>): Promise<string | null> {
  const { token } = readAdminIdentity(c.env);
  if (token === null) return null;
  const value = await getSignedCookie(c, await sessionSigningKey(token), SESSION_COOKIE);
  return typeof value === "string" && SESSION_ID.test(value) ? value : null;
}

/** Ends the session: its row is deleted (the cookie is dead from this moment, copies included) and the cookie removed. */
export async function endSession(c: Context<ConsoleApp>): Promise<void> {
  const sessionId = await sessionIdOf(c);
  if (sessionId) await deleteConsoleSession(c.env.DB, await sessionHash(sessionId));
  deleteCookie(c, SESSION_COOKIE, { path: "/console", secure: !isLocalhost(c) });
}

/**
 * The request's session when its cookie's signature holds and its row is alive at `now` (younger than
 * the lifetime, used within the idle timeout); marks it used at `now`. Null behind Access.
 */
export async function readSession(c: Context<ConsoleApp>, now: Date): Promise<Session | null> {
  if (!tokenSignInEnabled(c.env)) return null;
  const sessionId = await sessionIdOf(c);
  if (!sessionId) return null;
  const { idleTimeoutMs } = readConsoleSessionSettings(c.env);
  return touchConsoleSession(
    c.env.DB,
    await sessionHash(sessionId),
    now.toISOString(),
    new Date(now.getTime() - idleTimeoutMs).toISOString(),
  );
}

/** Where a signed-out visitor is sent to sign in, returning to `path` afterwards. */
export function loginPath(next?: string): string {
  return next ? `/console/login?next=${encodeURIComponent(next)}` : "/console/login";
}

/**
 * The CSRF token of an Access identity: a digest of the assertion itself. Only the signed-in browser
 * and this Worker see the assertion, so a forged cross-site form cannot know it, and no server
 * secret is needed when Access is the only way in.
 */
async function accessCsrfToken(assertion: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(`console-csrf:${assertion}`));
  return btoa(String.fromCharCode(...new Uint8Array(digest)))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "");
}

/**
 * The console's identity: with Cloudflare Access configured, a verified `Cf-Access-Jwt-Assertion`
 * (the actor is its email, checked on every request, as on the admin API), and nothing else;
 * otherwise a session opened with the admin token. A present but invalid assertion is 401 (and
 * counts as a failed authentication); no identity redirects a page request to the login page.
 */
export function consoleIdentity(): MiddlewareHandler<ConsoleApp> {
  return async function consoleIdentity(c, next) {
    const { access } = readAdminIdentity(c.env);
    const assertion = c.req.header(ACCESS_ASSERTION_HEADER);
    if (access && assertion) {
      const actor = await verifyAccessAssertion(assertion, access, c.get("now"));
      if (actor === null) {
        const throttled = await failedAuthenticationThrottled(c, "console-access");
        if (throttled) c.header("Retry-After", "60");
        return c.text("Your Cloudflare Access sign-in is not valid for this console.", throttled ? 429 : 401);
      }
      c.set("actor", actor);
      c.set("csrfToken", await accessCsrfToken(assertion));
      return next();
    }
    const session = access ? null : await readSession(c, c.get("now"));
    if (!session) {
      if (c.req.method === "GET" || c.req.method === "HEAD") {
        const url = new URL(c.req.url);
        return c.redirect(loginPath(url.pathname + url.search), 303);
      }
      return c.text("Sign in to the console first.", 401);
    }
    c.set("actor", session.actor);
    c.set("csrfToken", session.csrf);
    return next();
  };
}
