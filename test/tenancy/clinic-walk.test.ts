import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { recordInboundReply } from "../../src/db/inbound-replies";
import { recordRejection } from "../../src/db/rejections";
import { app } from "../../src/http/app";
import { adminFetchWith, createClinicPatient, putClinicProfile } from "../helpers/clinics";
import { CONSOLE_ORIGIN, csrfTokenOf } from "../helpers/console";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";
import { addStaff, twoClinicAccess, useAccessTeam } from "../helpers/staff";

const access = useAccessTeam();

/**
 * Clinic B's data, every piece carrying one canary string (or an id of its own), through the same
 * paths production uses where there is one: profile, patient, events (one processed, one dead), their
 * notifications (held), an alert, an audit row, a rejection and a staff member of clinic B only.
 */
async function seedClinicB(workerEnv: Env, b: string) {
  const canary = `canary${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  await putClinicProfile(workerEnv, b, {
    name: `${canary} Clinic`,
    phone: "+14155550888",
    alert_emails: [`${canary}@alerts.example`],
  });
  const patientId = await createClinicPatient(
    workerEnv,
    b,
    { phone: "+14155550777", email: `${canary}@patient.example` },
    `pat_${canary}`,
  );
  const orderId = `ord_${canary}`;
  const shipped = makeEvent("order:shipped", { clinic_id: b, data: { order_id: orderId, patient_id: patientId } });
  const dead = makeEvent("refill:approved", {
    clinic_id: b,
    data: { refill_id: `ref_${canary}`, patient_id: patientId },
  });
  await runBatch(EVENTS_QUEUE, [eventMessage(shipped), eventMessage(dead)], workerEnv);
  await env.DB.prepare(`UPDATE events SET status = 'dead' WHERE event_id = ?1`).bind(dead.event_id).run();
  const notification = await env.DB.prepare(
    `UPDATE notifications SET status = 'held', error = 'sms_provider_missing' WHERE event_id = ?1 RETURNING notification_id`,
  )
    .bind(shipped.event_id)
    .first<{ notification_id: string }>();
  const alertId = `alt_${canary}`;
  await env.DB.prepare(
    `INSERT INTO alerts (alert_id, rule, target_type, target_id, clinic_id, state, since, opened_at)
     VALUES (?1, 'event_dead', 'event', ?2, ?3, 'open', '2026-01-15T14:00:00.000Z', '2026-01-15T14:00:00.000Z')`,
  )
    .bind(alertId, dead.event_id, b)
    .run();
  await env.DB.prepare(
    `INSERT INTO audit (at, actor, action, target_type, target_id, outcome, status, clinic_id)
     VALUES ('2026-01-15T14:00:00.000Z', ?1, 'patient.read', 'patient', ?2, 'success', 200, ?3)`,
  )
    .bind(`staff-${canary}@b.example`, `tgt_${canary}`, b)
    .run();
  // A patient's text to clinic B (and its patient_replied alert), as the Twilio webhook writes it.
  const replyId = `rpl_${canary}`;
  await env.DB.batch(
    recordInboundReply(env.DB, {
      reply_id: replyId,
      clinic_id: b,
      phone: "+14155550777",
      body: `${canary} where is my order?`,
      received_at: "2026-01-15T14:00:00.000Z",
    }),
  );
  await recordRejection(env.DB, { clinicId: b, reason: "invalid_envelope", at: new Date(Date.now() - 60_000) });
  const staffOfB = await addStaff(workerEnv, "operator", [b]);
  return {
    canary,
    patientId,
    orderId,
    staffOfB,
    alertId,
    replyId,
    shippedId: shipped.event_id,
    deadId: dead.event_id,
    notificationId: notification?.notification_id ?? "",
    /** Strings that must never reach an identity of clinic A. */
    markers: [b, canary, "4155550777", "4155550888", shipped.event_id, dead.event_id, staffOfB],
  };
}

/** Every route of the app under /admin and /console, from its route table (a new route cannot be missed). */
function everyRoute(): { method: string; path: string }[] {
  const routes = app.routes
    .filter((route) => route.method !== "ALL" && /^\/(admin|console)(\/|$)/.test(route.path))
    .map((route) => ({ method: route.method, path: route.path }));
  return [...new Map(routes.map((route) => [`${route.method} ${route.path}`, route])).values()];
}

/** A route's path with clinic B's ids in its parameters. */
function withClinicBIds(path: string, ids: Record<string, string>): string {
  return path.replace(/:([a-z_]+)(\{[^}]*\})?/g, (_, name: string) => {
    if (name === "id") {
      if (path.startsWith("/console/patients/")) return encodeURIComponent(ids.patient_id ?? "");
      if (path.startsWith("/console/orders/")) return encodeURIComponent(ids.order_id ?? "");
      return encodeURIComponent(ids.refill_id ?? "");
    }
    return encodeURIComponent(ids[name] ?? "x");
  });
}

/** An audit list without `actor`'s own rows (its requests name the ids it typed: clinic B's, here). */
function withoutOwnRows(path: string, body: string, actor: string): string {
  if (path.startsWith("/admin/audit")) {
    const parsed = JSON.parse(body) as { entries?: { actor: string }[] };
    return JSON.stringify(parsed.entries?.filter((entry) => entry.actor !== actor));
  }
  if (path.startsWith("/console/audit"))
    return body
      .split("<tr")
      .filter((row) => !row.includes(actor))
      .join("<tr");
  return body;
}

describe("an identity of clinic A walks every admin route and console page and meets nothing of clinic B", () => {
  it.each(["viewer", "operator", "admin"])("as %s of clinic A", { timeout: 60_000 }, async (role) => {
    const { a, b, workerEnv } = twoClinicAccess();
    // Some of clinic A's own data, so lists and pages have rows to show.
    const patientOfA = await createClinicPatient(workerEnv, a);
    const eventOfA = makeEvent("order:shipped", {
      clinic_id: a,
      data: { order_id: uniqueId("ord"), patient_id: patientOfA },
    });
    await runBatch(EVENTS_QUEUE, [eventMessage(eventOfA)], workerEnv);
    const seeded = await seedClinicB(workerEnv, b);
    const walker = await addStaff(workerEnv, role, [a]);
    const as = await access.signedIn(workerEnv, walker);
    const csrf = csrfTokenOf(await (await as("/console/events")).text());

    const ids: Record<string, string> = {
      clinic_id: b,
      patient_id: seeded.patientId,
      event_id: seeded.shippedId,
      order_id: seeded.orderId,
      medication_request_id: `mr_${seeded.canary}`,
      refill_id: `ref_${seeded.canary}`,
      notification_id: seeded.notificationId,
      alert_id: seeded.alertId,
      reply_id: seeded.replyId,
      identity: seeded.staffOfB,
    };
    const routes = everyRoute();
    expect(routes.filter((route) => route.path.startsWith("/admin/")).length).toBeGreaterThan(25);
    expect(routes.filter((route) => route.path.startsWith("/console")).length).toBeGreaterThan(12);
    // Reads first (a write of clinic A's own would only add clinic A's rows), then every write twice,
    // with the bodies that would reach clinic B's rows if anything let them through.
    const reads = routes.filter((route) => route.method === "GET");
    const writes = routes.filter((route) => route.method !== "GET");
    const jsonBodies = [
      { status: "dead", role: "admin", clinics: "all", name: "hijack", limit: 1000 },
      { status: "held", limit: 1000 },
    ];
    const forms = [
      { _csrf: csrf, scope: "matching", status: "dead", field: "phone", name: "hijack" },
      { _csrf: csrf, scope: "selected", event_id: seeded.deadId, field: "email", force: "true" },
    ];
    const answers: string[] = [];
    const walk = async (method: string, routePath: string, init: RequestInit = {}) => {
      const path = withClinicBIds(routePath, ids);
      const response = await as(path, { method, redirect: "manual", ...init });
      // A search box or filter shows back what the walker typed: that echo is not clinic B's data.
      let body = withoutOwnRows(path, await response.text(), walker);
      for (const typed of new URL(path, CONSOLE_ORIGIN).searchParams.values()) body = body.replaceAll(typed, "");
      answers.push(`${method} ${routePath} ${response.status}`);
      expect(response.status, `${method} ${path}`).toBeLessThan(500);
      for (const marker of seeded.markers)
        expect(body.toLowerCase(), `${method} ${path}`).not.toContain(marker.toLowerCase());
      const location = response.headers.get("location") ?? "";
      for (const marker of seeded.markers) expect(location, `${method} ${path}`).not.toContain(marker);
    };
    for (const route of reads) await walk("GET", route.path);
    // The lists again with filters and searches that would find clinic B's rows.
    for (const path of [
      `/admin/events?status=dead`,
      `/admin/audit?target_id=tgt_${seeded.canary}`,
      `/admin/alerts?state=open`,
      `/console?clinic=${b}`,
      `/console/events?q=${seeded.orderId}`,
      `/console/events?clinic=${b}&status=dead`,
      `/console/alerts?clinic=${b}`,
      `/console/audit?target_id=tgt_${seeded.canary}`,
      `/console/patients/${seeded.patientId}?clinic=${b}`,
    ])
      await walk("GET", path);
    for (const route of writes) {
      for (const [index, body] of jsonBodies.entries()) {
        const form = forms[index] ?? {};
        const init: RequestInit = route.path.startsWith("/console")
          ? {
              body: new URLSearchParams(form),
              headers: { "content-type": "application/x-www-form-urlencoded", origin: CONSOLE_ORIGIN },
            }
          : { body: JSON.stringify(body) };
        await walk(route.method, route.path, init);
      }
    }
    // Another clinic's rows answer as unknown ones do.
    for (const answer of [
      "GET /admin/events/:event_id 404",
      "GET /admin/orders/:order_id 404",
      "GET /admin/notifications/:notification_id 404",
      "GET /admin/clinics/:clinic_id 404",
      "GET /console/events/:event_id 404",
    ])
      expect(answers).toContain(answer);
    expect(answers).toContain(role === "admin" ? "GET /admin/staff 200" : "GET /admin/staff 403");
    // A patient's reply is for operators: another clinic's answers 404 to them, and a viewer 403 for any.
    for (const route of ["/admin/inbound-replies/:reply_id", "/console/inbound-replies/:reply_id"])
      expect(answers).toContain(`GET ${route} ${role === "viewer" ? 403 : 404}`);

    // Nothing of clinic B changed.
    const state = await env.DB.prepare(
      `SELECT
        (SELECT name FROM clinic_profiles WHERE clinic_id = ?1) AS name,
        (SELECT phone FROM patients WHERE clinic_id = ?1 AND patient_id = ?2) AS phone,
        (SELECT role FROM staff WHERE identity = ?3) AS staff_role,
        (SELECT status FROM events WHERE event_id = ?4) AS dead_status,
        (SELECT status FROM notifications WHERE notification_id = ?5) AS notification_status,
        (SELECT acknowledged_by FROM alerts WHERE alert_id = ?6) AS acknowledged_by`,
    )
      .bind(b, seeded.patientId, seeded.staffOfB, seeded.deadId, seeded.notificationId, seeded.alertId)
      .first();
    expect(state).toEqual({
      name: `${seeded.canary} Clinic`,
      phone: "+14155550777",
      staff_role: "operator",
      dead_status: "dead",
      notification_status: "held",
      acknowledged_by: null,
    });
    // The admin token (every clinic) does see clinic B: the canaries are where they should be.
    expect(await (await adminFetchWith(workerEnv, `/events/${seeded.shippedId}`)).text()).toContain(b);
  });
});
