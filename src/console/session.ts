import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { readAdminIdentity } from "../config/admin";
import { ACCESS_ASSERTION_HEADER, verifyAccessAssertion } from "../http/identity";
import { failedAuthenticationThrottled } from "../http/middleware/auth-failure";
import type { ConsoleApp } from "./types";

/**
 * Console sessions: a signed cookie holding who signed in, when, and the session's CSRF token. The
 * expiry is enforced here from the signed timestamp, not only by the cookie's Max-Age, so a copied
 * cookie stops working after {@link SESSION_LIFETIME_MS} whatever the browser does with it.
 */

export const SESSION_COOKIE = "console_session";
export const SESSION_LIFETIME_MS = 8 * 60 * 60 * 1000;
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

/**
 * Starts a session for `actor` at `now` and sets its cookie. Sessions exist only where `ADMIN_TOKEN`
 * is configured (the login form); Access identities are verified on every request instead.
 */
export async function startSession(c: Context<ConsoleApp>, actor: string, now: Date): Promise<void> {
  const { token } = readAdminIdentity(c.env);
  if (token === null) throw new Error("console sessions need ADMIN_TOKEN");
  const session: Session = { actor, issuedAt: now.getTime(), csrf: randomToken() };
  await setSignedCookie(c, SESSION_COOKIE, btoa(JSON.stringify(session)), await sessionSigningKey(token), {
    path: "/console",
    httpOnly: true,
    sameSite: "Strict",
    secure: !isLocalhost(c),
    maxAge: SESSION_LIFETIME_MS / 1000,
  });
}

/** Ends the session: the cookie is removed (an unexpired copy still dies at its signed expiry). */
export function endSession(c: Context<ConsoleApp>): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/console", secure: !isLocalhost(c) });
}

/** The request's session when its signature holds and it is younger than the lifetime at `now`. */
export async function readSession(c: Context<ConsoleApp>, now: Date): Promise<Session | null> {
  const { token } = readAdminIdentity(c.env);
  if (token === null) return null;
  const value = await getSignedCookie(c, await sessionSigningKey(token), SESSION_COOKIE);
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
 * (the actor is its email, checked on every request, as on the admin API); otherwise, or when no
 * assertion comes, a session opened with the admin token. A present but invalid assertion is 401 (and
 * counts as a failed authentication); no identity redirects a page request to the login form.
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
