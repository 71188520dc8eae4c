import { type Context, Hono } from "hono";
import { readAdminIdentity, readConsoleSessionSettings } from "../../config/admin";
import { isAdminToken } from "../../http/identity";
import {
  AUTH_FAILURE_RETRY_AFTER_SECONDS,
  failedAuthenticationThrottled,
  refusedClientRetryAfter,
} from "../../http/middleware/auth-failure";
import { bodyCap, FORM_MAX_BODY_BYTES } from "../../http/middleware/body-cap";
import { log } from "../../log";
import { Layout, Notice } from "../layout";
import { startSession, tokenSignInEnabled } from "../session";
import type { ConsoleApp } from "../types";

/** A console path to return to after signing in; anything else (another site, `//host`) becomes the overview. */
function safeNext(next: unknown): string {
  return typeof next === "string" && /^\/console(\/|$|\?)/.test(next) && !next.startsWith("//") ? next : "/console";
}

function LoginPage({ next, idleMinutes, error }: { next: string; idleMinutes: number; error?: string }) {
  return (
    <Layout title="Sign in">
      {error && <Notice kind="error">{error}</Notice>}
      <form method="post" action="/console/login" class="stacked">
        <input type="hidden" name="next" value={next} />
        <p>
          <label for="token">Admin token</label>
          <input type="password" id="token" name="token" autocomplete="current-password" required size={40} />
        </p>
        <button type="submit">Sign in</button>
      </form>
      <p class="muted">
        Locally the token is ADMIN_TOKEN in .dev.vars. A session ends after {idleMinutes} minutes unused, and after 8
        hours in any case.
      </p>
    </Layout>
  );
}

function idleMinutes(env: Env): number {
  return readConsoleSessionSettings(env).idleTimeoutMs / 60_000;
}

/** Behind Cloudflare Access: no token form, every console user signs in as a person through Access. */
function AccessSignInPage() {
  return (
    <Layout title="Sign in">
      <p>
        This console signs in through Cloudflare Access. <a href="/console">Open the console</a> to sign in with your
        organisation's account.
      </p>
    </Layout>
  );
}

/**
 * `/console/login`: the local sign-in with the admin token (public; rate-limited on failure). Off
 * when Cloudflare Access is configured: the page then points to Access, and a posted token is refused.
 */
export const login = new Hono<ConsoleApp>();

login.get("/", (c) =>
  tokenSignInEnabled(c.env)
    ? c.html(<LoginPage next={safeNext(c.req.query("next"))} idleMinutes={idleMinutes(c.env)} />)
    : c.html(<AccessSignInPage />),
);

/** The console sign-in's failure-limiter scope. */
const SCOPE = "console-login";

function tooManyAttempts(c: Context<ConsoleApp>, next: string, retryAfterSeconds: number) {
  c.header("Retry-After", String(retryAfterSeconds));
  return c.html(
    <LoginPage
      next={next}
      idleMinutes={idleMinutes(c.env)}
      error="Too many failed attempts; wait a minute and try again."
    />,
    429,
  );
}

// Public: the body is capped before it is read (413 payload_too_large), as on every route before sign-in.
login.post("/", bodyCap(FORM_MAX_BODY_BYTES, "The form is larger than 8 KiB."), async (c) => {
  // Behind Access the token opens the admin API for scripts only, never a console session.
  if (!tokenSignInEnabled(c.env)) return c.html(<AccessSignInPage />, 403);
  const form = await c.req.parseBody();
  const next = safeNext(form.next);
  const presented = typeof form.token === "string" ? form.token.trim() : "";
  const { token, tokenActor } = readAdminIdentity(c.env);
  // A client the limiter refused is refused before the comparison, even with the right token.
  const refusedFor = refusedClientRetryAfter(c, SCOPE);
  if (refusedFor !== null) return tooManyAttempts(c, next, refusedFor);
  if (await isAdminToken(presented, token)) {
    await startSession(c, tokenActor, c.get("now"));
    log.info("console sign-in", { actor: tokenActor, request_id: c.get("requestId") });
    return c.redirect(next, 303);
  }
  if (await failedAuthenticationThrottled(c, SCOPE)) return tooManyAttempts(c, next, AUTH_FAILURE_RETRY_AFTER_SECONDS);
  return c.html(<LoginPage next={next} idleMinutes={idleMinutes(c.env)} error="That token is not valid." />, 401);
});
