import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { readAdminToken } from "../config/admin";
import type { ConsoleApp } from "./types";

/**
 * Console sessions: a signed cookie holding who signed in, when, and the session's CSRF token. The
 * expiry is enforced here from the signed timestamp, not only by the cookie's Max-Age, so a copied
 * cookie stops working after {@link SESSION_LIFETIME_MS} whatever the browser does with it.
 */

export const SESSION_COOKIE = "console_session";
export const SESSION_LIFETIME_MS = 8 * 60 * 60 * 1000;
/** The actor of a session opened with the admin token (Access identities will be `access:<email>`). */
export const ADMIN_TOKEN_ACTOR = "token:admin";

interface Session {
  actor: string;
  issuedAt: number;
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

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "");
}

/** Starts a session for `actor` at `now` and sets its cookie. */
export async function startSession(c: Context<ConsoleApp>, actor: string, now: Date): Promise<void> {
  const session: Session = { actor, issuedAt: now.getTime(), csrf: randomToken() };
  await setSignedCookie(
    c,
    SESSION_COOKIE,
    btoa(JSON.stringify(session)),
    await sessionSigningKey(readAdminToken(c.env)),
    {
      path: "/console",
      httpOnly: true,
      sameSite: "Strict",
      secure: !isLocalhost(c),
      maxAge: SESSION_LIFETIME_MS / 1000,
    },
  );
}

/** Ends the session: the cookie is removed (an unexpired copy still dies at its signed expiry). */
export function endSession(c: Context<ConsoleApp>): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/console", secure: !isLocalhost(c) });
}

/** The request's session when its signature holds and it is younger than the lifetime at `now`. */
export async function readSession(c: Context<ConsoleApp>, now: Date): Promise<Session | null> {
  const value = await getSignedCookie(c, await sessionSigningKey(readAdminToken(c.env)), SESSION_COOKIE);
  if (!value) return null;
  let session: Partial<Session>;
  try {
    session = JSON.parse(atob(value)) as Partial<Session>;
  } catch {
    return null;
  }
  const { actor, issuedAt, csrf } = session;
  if (typeof actor !== "string" || typeof issuedAt !== "number" || typeof csrf !== "string") return null;
  const age = now.getTime() - issuedAt;
  if (age < 0 || age >= SESSION_LIFETIME_MS) return null;
  return { actor, issuedAt, csrf };
}

/** Where a signed-out visitor is sent to sign in, returning to `path` afterwards. */
export function loginPath(next?: string): string {
  return next ? `/console/login?next=${encodeURIComponent(next)}` : "/console/login";
}

/**
 * The console's identity: sets `actor` and `csrfToken` from a valid session. Without one, a page
 * request is redirected to the login form and anything else gets 401. Identity from Cloudflare Access
 * (a verified `Cf-Access-Jwt-Assertion`) is meant to be added here as a second source of `actor`.
 */
export function consoleIdentity(): MiddlewareHandler<ConsoleApp> {
  return async function consoleIdentity(c, next) {
    const session = await readSession(c, c.get("now"));
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
