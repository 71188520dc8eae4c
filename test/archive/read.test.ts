import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { archiveFinishedHistory } from "../../src/archive/run";
import { accessEnv, useAccessTeam } from "../helpers/access";
import { adminJson } from "../helpers/admin";
import { onlyAuditRowOf } from "../helpers/audit";
import { adminFetchWith } from "../helpers/clinics";
import { TEST_NOW } from "../helpers/clock";
import { consoleFetch, signIn } from "../helpers/console";
import { uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { newClinic, seedFinishedDay } from "./helpers";

async function archivedEvent(clinic = newClinic()) {
  const seeded = await seedFinishedDay(clinic, "2025-07-01", 3);
  const result = await archiveFinishedHistory(env, new Date(TEST_NOW), { queryBudget: 600 });
  expect(result.deleted).toBeGreaterThan(0);
  const eventId = seeded.eventIds[1] ?? "";
  expect(await env.DB.prepare(`SELECT 1 FROM events WHERE event_id = ?1`).bind(eventId).first()).toBeNull();
  return { eventId, notificationId: seeded.notificationIds[1] };
}

const access = useAccessTeam(useMockNetwork());

/** A console page as the signed-in admin sees it, which must answer 200. */
async function consoleHtml(path: string): Promise<string> {
  const { cookie } = await signIn();
  const response = await consoleFetch(path, { cookie });
  expect(response.status).toBe(200);
  return response.text();
}

/** A new Access identity, viewer of `clinic` only. */
async function newViewer(workerEnv: Env, clinic: string): Promise<string> {
  const identity = `viewer-${crypto.randomUUID().slice(0, 8)}@clinic.example`;
  const put = await adminFetchWith(workerEnv, `/staff/${identity}`, {
    method: "PUT",
    body: JSON.stringify({ role: "viewer", clinics: [clinic] }),
  });
  expect(put.status).toBe(200);
  return identity;
}

describe("archived events stay readable", () => {
  it("GET /admin/events/:event_id answers from the archive with archived: true, audited", async () => {
    const { eventId, notificationId } = await archivedEvent();
    const { status, body } = await adminJson<Record<string, unknown>>(`/events/${eventId}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      event_id: eventId,
      event_type: "order:delivered",
      status: "processed",
      archived: true,
      notifications: [{ notification_id: notificationId, channel: "sms", status: "delivered" }],
    });
    expect(await onlyAuditRowOf("event", eventId)).toMatchObject({ action: "event.read", outcome: "success" });
  });

  it("answers a live event with archived: false and an unknown one with 404", async () => {
    const missing = uniqueId("evt_nowhere");
    expect((await adminJson(`/events/${missing}`)).status).toBe(404);
    expect(await onlyAuditRowOf("event", missing)).toMatchObject({ outcome: "not_found" });
  });

  it("the console's event page falls back to the archive, without a replay button", async () => {
    const { eventId } = await archivedEvent();
    const html = await consoleHtml(`/console/events/${eventId}`);
    expect(html).toContain("Archived: this finished event");
    expect(html).toContain("Archived events cannot be replayed.");
    expect(html).not.toContain("Replay this event");
  });

  it("only within the identity's clinics: another clinic's archived event is unknown to the console and the API", async () => {
    const own = newClinic();
    const other = newClinic();
    const { eventId } = await archivedEvent(other);
    const workerEnv = accessEnv({ NOVAMED_CLINIC_IDS: `${own},${other}` });
    const outsider = await newViewer(workerEnv, own);
    const page = await (await access.consoleAs(workerEnv, outsider))(`/console/events/${eventId}`);
    expect(page.status).toBe(404);
    expect(await page.text()).not.toContain("Archived: this finished event");
    expect((await access.adminFetch(workerEnv, outsider, `/events/${eventId}`)).status).toBe(404);

    // A viewer of its clinic reads it, and the audit row records that clinic.
    const insider = await newViewer(workerEnv, other);
    const read = await (await access.consoleAs(workerEnv, insider))(`/console/events/${eventId}`);
    expect(read.status).toBe(200);
    const row = await env.DB.prepare(`SELECT clinic_id, outcome FROM audit WHERE request_id = ?1`)
      .bind(read.headers.get("x-request-id"))
      .first();
    expect(row).toEqual({ clinic_id: other, outcome: "success" });
  });
});

describe("archived entities stay readable", () => {
  it("GET /admin/orders/:order_id answers from the archive with archived: true, audited; a live one archived: false", async () => {
    const clinic = newClinic();
    const seeded = await seedFinishedDay(clinic, "2025-07-02", 3);
    const live = await seedFinishedDay(clinic, "2026-01-10", 1);
    await archiveFinishedHistory(env, new Date(TEST_NOW), { queryBudget: 600 });
    const orderId = seeded.orderIds[2] ?? "";
    expect(await env.DB.prepare(`SELECT 1 FROM orders WHERE order_id = ?1`).bind(orderId).first()).toBeNull();

    const { status, body } = await adminJson<Record<string, unknown>>(`/orders/${orderId}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ order_id: orderId, status: "delivered", patient_id: "pat_archive", archived: true });
    // The same view as a live order's: the internal progression columns stay out.
    expect(body).not.toHaveProperty("status_rank");
    expect(body).not.toHaveProperty("clinic_id");
    expect(await onlyAuditRowOf("order", orderId)).toMatchObject({ action: "order.read", outcome: "success" });

    // The console's order page falls back to the archive too.
    const html = await consoleHtml(`/console/orders/${orderId}`);
    expect(html).toContain("Archived: this finished order");
    expect(html).toContain("pat_archive");

    const liveOrder = await adminJson<Record<string, unknown>>(`/orders/${live.orderIds[0]}`);
    expect(liveOrder.body).toMatchObject({ order_id: live.orderIds[0], archived: false });
    // An order that was never anywhere, and an event id, are unknown.
    expect((await adminJson(`/orders/${uniqueId("ord_nowhere")}`)).status).toBe(404);
    expect((await adminJson(`/orders/${seeded.eventIds[2]}`)).status).toBe(404);
    // The index keys an entity by its kind: the same id as a refill is unknown.
    expect((await adminJson(`/refills/${orderId}`)).status).toBe(404);
  });

  it("only within the identity's clinics: another clinic's archived order is unknown", async () => {
    const own = newClinic();
    const other = newClinic();
    const seeded = await seedFinishedDay(other, "2025-07-03", 2);
    await archiveFinishedHistory(env, new Date(TEST_NOW), { queryBudget: 600 });
    const orderId = seeded.orderIds[0] ?? "";
    const workerEnv = accessEnv({ NOVAMED_CLINIC_IDS: `${own},${other}` });
    const outsiderId = await newViewer(workerEnv, own);
    const outsider = await access.adminFetch(workerEnv, outsiderId, `/orders/${orderId}`);
    expect(outsider.status).toBe(404);
    const outsiderPage = await (await access.consoleAs(workerEnv, outsiderId))(`/console/orders/${orderId}`);
    expect(outsiderPage.status).toBe(404);
    expect(await outsiderPage.text()).not.toContain("pat_archive");
    const insider = await access.adminFetch(workerEnv, await newViewer(workerEnv, other), `/orders/${orderId}`);
    expect(insider.status).toBe(200);
    expect(await insider.json()).toMatchObject({ order_id: orderId, archived: true });
    const row = await env.DB.prepare(`SELECT clinic_id, outcome FROM audit WHERE request_id = ?1`)
      .bind(insider.headers.get("x-request-id"))
      .first();
    expect(row).toEqual({ clinic_id: other, outcome: "success" });
  });
});
