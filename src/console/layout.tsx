import type { Context } from "hono";
import type { Child } from "hono/jsx";
import { CSRF_FIELD } from "./csrf";
import { formatAge, formatInstant } from "./format";
import type { ConsoleApp } from "./types";

/** The stylesheet and icon every page links; served by the console itself (see app.tsx). */
export const STYLESHEET_PATH = "/console/assets/console.css";
export const ICON_PATH = "/console/assets/icon.svg";

interface LayoutProps {
  title: string;
  /** Who is signed in; omitted on the login page, which then shows no navigation. */
  actor?: string;
  csrfToken?: string;
  /** An admin's navigation also links the admins-only pages (forwarding destinations). */
  admin?: boolean;
  children: Child;
}

/** The one page layout: skip link, header with navigation and sign-out, main content. */
export function Layout({ title, actor, csrfToken, admin, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · NovaMed console`}</title>
        <link rel="stylesheet" href={STYLESHEET_PATH} />
        <link rel="icon" href={ICON_PATH} type="image/svg+xml" />
      </head>
      <body>
        <a class="skip-link" href="#main">
          Skip to content
        </a>
        <header class="site-header">
          <span class="brand">NovaMed console</span>
          {actor && (
            <nav aria-label="Main">
              <a href="/console">Overview</a>
              <a href="/console/events">Events</a>
              <a href="/console/patients">Patients</a>
              <a href="/console/orders">Orders</a>
              <a href="/console/medication-requests">Requests</a>
              <a href="/console/refills">Refills</a>
              <a href="/console/notifications">Notifications</a>
              <a href="/console/alerts">Alerts</a>
              <a href="/console/audit">Audit</a>
              <a href="/console/clinics">Clinics</a>
              {admin && <a href="/console/destinations">Destinations</a>}
            </nav>
          )}
          {actor && (
            // It posts: a phone or email typed here never lands in a URL (history, request logs).
            // biome-ignore lint/a11y/useSemanticElements: a form with role="search" is announced by every screen reader; <search> is not yet
            <form method={csrfToken ? "post" : "get"} action="/console/search" role="search" class="site-search">
              {csrfToken && <CsrfField token={csrfToken} />}
              <label for="site-search">Search</label>
              <input
                id="site-search"
                type="search"
                name="q"
                placeholder="phone, email, tracking number or id"
                maxlength={200}
              />
              <button type="submit">Find</button>
            </form>
          )}
          {actor && csrfToken && (
            <form method="post" action="/console/logout" class="sign-out">
              <span class="actor">Signed in as {actor}</span>
              <CsrfField token={csrfToken} />
              <button type="submit">Sign out</button>
            </form>
          )}
        </header>
        <main id="main">
          <h1>{title}</h1>
          {children}
        </main>
      </body>
    </html>
  );
}

/** Renders `content` inside the layout for the signed-in actor. */
export function renderPage(
  c: Context<ConsoleApp>,
  title: string,
  content: Child,
  status: 200 | 400 | 403 | 404 | 409 | 503 = 200,
) {
  return c.html(
    <Layout
      title={title}
      actor={c.get("actor")}
      csrfToken={c.get("csrfToken")}
      admin={c.get("staffScope")?.role === "admin"}
    >
      {content}
    </Layout>,
    status,
  );
}

/** The hidden CSRF token field of a console form. */
export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name={CSRF_FIELD} value={token} />;
}

/** A status as text in a coloured badge: the colour is never the only signal. */
export function StatusBadge({ status }: { status: string }) {
  return <span class={`status status-${status.replaceAll(/[^a-z_]/g, "")}`}>{status}</span>;
}

/** An instant in the clinic's time zone, with the UTC instant in `datetime` and on hover. */
export function Time({ iso, timeZone }: { iso: string | null; timeZone: string }) {
  if (!iso) return <span class="muted">—</span>;
  return (
    <time datetime={iso} title={`${iso} (UTC)`}>
      {formatInstant(iso, timeZone)}
    </time>
  );
}

/** An instant and how long before `now` it was. */
export function TimeAgo({ iso, timeZone, now }: { iso: string | null; timeZone: string; now: Date }) {
  if (!iso) return <span class="muted">never</span>;
  return (
    <>
      <Time iso={iso} timeZone={timeZone} /> <span class="age">({formatAge(iso, now)} ago)</span>
    </>
  );
}

/** A message box; `role="alert"` for errors so screen readers announce them. */
export function Notice({ kind, children }: { kind: "info" | "error"; children: Child }) {
  return (
    <p class={`notice notice-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </p>
  );
}

/** The list pages' pager: back to the first page when on a later one, and the next page when there is one. */
export function Pager({ first, next }: { first: string | null; next: string | null }) {
  return (
    <nav class="pager" aria-label="Pages">
      {first && <a href={first}>First page</a>}
      {next && (
        <a href={next} rel="next">
          Next page
        </a>
      )}
    </nav>
  );
}
