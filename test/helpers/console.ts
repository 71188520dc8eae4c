import { exports } from "cloudflare:workers";
import { ADMIN_TOKEN } from "./events";

export const CONSOLE_ORIGIN = "https://receiver.test";

/**
 * A fetch to the Worker's console, as a same-origin browser would send it (with `Origin` on POSTs).
 * `form` as pairs sends a field more than once, as ticked checkboxes do.
 */
export function consoleFetch(
  path: string,
  init: RequestInit & { cookie?: string; form?: Record<string, string> | [string, string][] } = {},
  fetcher: (request: Request) => Promise<Response> = (request) => exports.default.fetch(request),
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.cookie) headers.set("cookie", init.cookie);
  let body = init.body;
  if (init.form) {
    body = new URLSearchParams(init.form).toString();
    headers.set("content-type", "application/x-www-form-urlencoded");
    if (!headers.has("origin")) headers.set("origin", CONSOLE_ORIGIN);
  }
  const url = path.startsWith("http") ? path : `${CONSOLE_ORIGIN}${path}`;
  return fetcher(
    new Request(url, { method: init.method ?? (init.form ? "POST" : "GET"), headers, body, redirect: "manual" }),
  );
}

/** The `name=value` pair of a Set-Cookie header, for the next request's Cookie header. */
export function cookiePair(setCookie: string | null): string {
  if (!setCookie) throw new Error("no Set-Cookie header");
  return setCookie.split(";")[0] ?? "";
}

/** The CSRF token rendered into a page's forms. */
export function csrfTokenOf(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match?.[1]) throw new Error("no CSRF field on the page");
  return match[1];
}

/** Signs in with the admin token; returns the session cookie and the session's CSRF token. */
export async function signIn(
  fetcher?: (request: Request) => Promise<Response>,
  token = ADMIN_TOKEN,
): Promise<{ cookie: string; csrf: string }> {
  const response = await consoleFetch("/console/login", { form: { token, next: "/console/events" } }, fetcher);
  if (response.status !== 303) throw new Error(`sign-in answered ${response.status}`);
  const cookie = cookiePair(response.headers.get("set-cookie"));
  const page = await consoleFetch("/console/events", { cookie }, fetcher);
  return { cookie, csrf: csrfTokenOf(await page.text()) };
}

/**
 * The entries of an event page's "Attempts and replays" history, newest first, as text: each time as
 * its UTC instant, tags dropped (e.g. `2026-03-04T12:00:00.000Z — replay by token:admin: success
 * (303)`); [] when the page lists none.
 */
export function eventHistoryOf(html: string): string[] {
  const start = html.indexOf('id="event-history"');
  if (start === -1) return [];
  const list = html.slice(start, html.indexOf("</ol>", start));
  return [...list.matchAll(/<li>([\s\S]*?)<\/li>/g)].map(([, item]) =>
    (item ?? "")
      .replaceAll(/<time datetime="([^"]+)"[^>]*>[^<]*<\/time>/g, "$1")
      .replaceAll(/<[^>]+>/g, "")
      .replaceAll("&#39;", "'"),
  );
}
