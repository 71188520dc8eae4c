import { describe, expect, it } from "vitest";
import { consoleFetch, signIn } from "../helpers/console";
import { makeEvent, postWebhook } from "../helpers/events";

describe("console CSRF defences", () => {
  it("refuses a POST without the session's CSRF token, or with a wrong one, with 403", async () => {
    const { cookie } = await signIn();
    const missing = await consoleFetch("/console/logout", { cookie, form: {} });
    expect(missing.status).toBe(403);
    expect(missing.headers.get("set-cookie")).toBeNull();
    const wrong = await consoleFetch("/console/logout", { cookie, form: { _csrf: "guessed" } });
    expect(wrong.status).toBe(403);
  });

  it("refuses a cross-site POST even with the right token (Hono's origin check)", async () => {
    const { cookie, csrf } = await signIn();
    const response = await consoleFetch("/console/logout", {
      cookie,
      form: { _csrf: csrf },
      headers: { origin: "https://evil.example" },
    });
    expect(response.status).toBe(403);
    const login = await consoleFetch("/console/login", {
      form: { token: "x" },
      headers: { origin: "https://evil.example" },
    });
    expect(login.status).toBe(403);
  });

  it("gives each session its own token", async () => {
    const first = await signIn();
    const second = await signIn();
    expect(first.csrf).not.toBe(second.csrf);
    const crossed = await consoleFetch("/console/logout", { cookie: first.cookie, form: { _csrf: second.csrf } });
    expect(crossed.status).toBe(403);
  });
});

describe("console response headers", () => {
  it("marks every console response no-store with a CSP allowing only our own assets", async () => {
    const { cookie } = await signIn();
    const responses = await Promise.all([
      consoleFetch("/console/login"),
      consoleFetch("/console"),
      consoleFetch("/console", { cookie }),
      consoleFetch("/console/events", { cookie }),
      consoleFetch("/console/assets/console.css"),
      consoleFetch("/console/login", { form: { token: "wrong" } }),
    ]);
    for (const response of responses) {
      expect(response.headers.get("cache-control")).toBe("no-store");
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe-inline");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    }
  });

  it("serves the one stylesheet and the icon without a session", async () => {
    const css = await consoleFetch("/console/assets/console.css");
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toContain("text/css");
    expect(await css.text()).toContain(".status-dead");
    const icon = await consoleFetch("/console/assets/icon.svg");
    expect(icon.headers.get("content-type")).toBe("image/svg+xml");
  });

  it("renders pages with no inline script or style, so the CSP holds", async () => {
    const { cookie } = await signIn();
    const event = makeEvent("order:shipped");
    expect((await postWebhook(event)).status).toBe(200);
    for (const path of ["/console", "/console/events", `/console/events/${event.event_id}`]) {
      const html = await (await consoleFetch(path, { cookie })).text();
      expect(html).not.toMatch(/<script|style="|<style/);
    }
  });
});
