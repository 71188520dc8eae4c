import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/http/app";
import worker from "../../src/index";
import type { StoredAuditRow } from "../helpers/audit";
import { CONSOLE_ORIGIN, signIn } from "../helpers/console";
import { ADMIN_TOKEN, makeEvent, uniqueId } from "../helpers/events";
import { createPatient } from "../helpers/notifications";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

/**
 * The routes of the admin API and the console that return no data about a patient, each with the
 * reason. Every other route the app has (found by walking Hono's route table, so a new route is
 * covered the day it is added) must write an audit row when called; a search must record its text
 * as the target.
 */
const NO_PATIENT_DATA: Record<string, string> = {
  "GET /admin/events":
    "event summaries (ids, type, clinic, status, times, error code); no patient id, no patient filter",
  "GET /admin/stats": "counts by status",
  "GET /admin/health": "configuration problems by variable name",
  "GET /admin/alerts": "alerts name a rule and an entity, event or clinic id, never a patient",
  "GET /admin/rejections": "refused webhook deliveries counted by clinic, reason and hour; no body, no key",
  "GET /admin/changes": "the change feed: ids, statuses and times; no patient data",
  "GET /admin/clinics": "clinic profiles: the clinic's own name, phone and senders, never a patient's",
  "GET /admin/clinics/:clinic_id": "one clinic profile, as GET /admin/clinics",
  "GET /admin/staff": "staff identities, roles and clinic ids",
  "GET /console": "the overview: counts and charts",
  "GET /console/alerts": "the alert list, as GET /admin/alerts",
  "GET /console/clinics": "clinic settings, as GET /admin/clinics",
  "GET /console/assets/console.css": "the stylesheet",
  "GET /console/assets/icon.svg": "the icon",
  "GET /console/login": "the sign-in form",
  "POST /console/login": "signing in",
  "POST /console/logout": "signing out",
};

interface WalkedRoute {
  method: string;
  path: string;
}

/** Every concrete (method, path) of `/admin` and `/console` in the app's route table; middleware left out. */
function walkRoutes(): WalkedRoute[] {
  const seen = new Map<string, WalkedRoute>();
  for (const route of app.routes) {
    if (route.method === "ALL" || route.path.includes("*")) continue;
    if (!/^\/(admin|console)(\/|$)/.test(route.path)) continue;
    const path = route.path.length > 1 ? route.path.replace(/\/$/, "") : route.path;
    seen.set(`${route.method} ${path}`, { method: route.method, path });
  }
  return [...seen.values()];
}

describe("every admin and console route that can return patient data writes an audit row", () => {
  it("walks the app's route table", async () => {
    const patientId = await createPatient();
    const orderId = uniqueId("ord");
    const shipped = makeEvent("order:shipped", { data: { order_id: orderId, patient_id: patientId } });
    await runBatch(EVENTS_QUEUE, [eventMessage(shipped)]);
    const session = await signIn();

    // A route parameter's value: the seeded patient, order or event where the name says so; any
    // other id is unknown (an audited route still writes its row, with outcome not_found).
    const parameterValue = (path: string, param: string): string => {
      if (param === "patient_id" || (param === "id" && path.includes("/patients/"))) return patientId;
      if (param === "order_id" || (param === "id" && path.includes("/orders/"))) return orderId;
      if (param === "event_id") return shipped.event_id;
      return uniqueId("walk");
    };

    const routes = walkRoutes();
    // The walk sees the whole surface (a broken walk would prove nothing).
    expect(routes.length).toBeGreaterThan(25);
    for (const key of Object.keys(NO_PATIENT_DATA)) {
      expect(
        routes.map((route) => `${route.method} ${route.path}`),
        `${key} is listed as returning no patient data but is no route`,
      ).toContain(key);
    }

    const unaudited: string[] = [];
    for (const route of routes) {
      const key = `${route.method} ${route.path}`;
      if (NO_PATIENT_DATA[key]) continue;
      // DELETE gets a fresh id, so the seeded patient stays for the other routes.
      const path = route.path.replace(/:([A-Za-z_]+)(\{[^}]*\})?/g, (_match, param: string) =>
        encodeURIComponent(route.method === "DELETE" ? uniqueId("walk") : parameterValue(route.path, param)),
      );
      const headers = new Headers({ "cf-connecting-ip": "203.0.113.77" });
      let body: BodyInit | undefined;
      if (route.path.startsWith("/admin")) {
        headers.set("authorization", `Bearer ${ADMIN_TOKEN}`);
        if (route.method !== "GET") {
          headers.set("content-type", "application/json");
          body = JSON.stringify({ q: patientId });
        }
      } else {
        headers.set("cookie", session.cookie);
        if (route.method !== "GET") {
          headers.set("origin", CONSOLE_ORIGIN);
          headers.set("content-type", "application/x-www-form-urlencoded");
          body = new URLSearchParams({ _csrf: session.csrf, field: "phone", status: "dead", q: patientId }).toString();
        }
      }
      // Every search field a route may read (the query's, or a posted search's `q`), set to the patient's id.
      const query = route.method === "GET" ? `?q=${patientId}&target_id=${patientId}` : "";
      const response = await worker.fetch(
        new Request(`https://receiver.test${path}${query}`, { method: route.method, headers, body }),
        env,
      );
      await response.body?.cancel();
      // The Worker issues its own request id (a caller's is only a correlation id): read it back.
      const requestId = response.headers.get("x-request-id");
      const { results } = await env.DB.prepare(`SELECT * FROM audit WHERE request_id = ?1`)
        .bind(requestId)
        .all<StoredAuditRow>();
      if (results.length === 0) unaudited.push(`${key} (answered ${response.status})`);
      for (const row of results.filter((candidate) => candidate.target_type === "search")) {
        expect(row.target_id, `${key} records the search text as its target`).toBe(patientId);
      }
    }
    expect(unaudited).toEqual([]);
  });

  it("records a console search by patient id, with the search text as target", async () => {
    const patientId = await createPatient();
    await runBatch(EVENTS_QUEUE, [
      eventMessage(makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } })),
    ]);
    const session = await signIn();
    const response = await worker.fetch(
      new Request(`https://receiver.test/console/events?q=${patientId}`, { headers: { cookie: session.cookie } }),
      env,
    );
    expect(response.status).toBe(200);
    const requestId = response.headers.get("x-request-id");
    const row = await env.DB.prepare(`SELECT * FROM audit WHERE request_id = ?1`)
      .bind(requestId)
      .first<StoredAuditRow>();
    expect(row).toMatchObject({
      actor: "token:admin",
      action: "event.search",
      target_type: "search",
      target_id: patientId,
      outcome: "success",
      status: 200,
    });
  });
});
