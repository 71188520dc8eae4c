import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { accessEnv, useAccessTeam } from "../helpers/access";
import { adminFetchWith, createClinicPatient, openClinicAlert } from "../helpers/clinics";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

const access = useAccessTeam(useMockNetwork());

/** A staff route called as an Access identity. */
const asAccess = access.adminFetch;

/** One clinic's data: a patient, a shipped order (with its notifications), an invalid event, an open alert. */
async function seedClinic(workerEnv: Env, clinicId: string) {
  const patientId = await createClinicPatient(workerEnv, clinicId);
  const orderId = uniqueId("ord");
  const shipped = makeEvent("order:shipped", {
    clinic_id: clinicId,
    data: { order_id: orderId, patient_id: patientId },
  });
  const invalid = makeEvent("refill:approved", { clinic_id: clinicId, data: { refill_id: 42 } });
  await runBatch(EVENTS_QUEUE, [eventMessage(shipped), eventMessage(invalid)]);
  const notification = await env.DB.prepare(`SELECT notification_id FROM notifications WHERE event_id = ?1 LIMIT 1`)
    .bind(shipped.event_id)
    .first<{ notification_id: string }>();
  const alertId = await openClinicAlert(clinicId, orderId);
  return { patientId, orderId, shipped, invalid, notificationId: String(notification?.notification_id), alertId };
}

const statusOf = async (eventId: string) =>
  (await env.DB.prepare(`SELECT status FROM events WHERE event_id = ?1`).bind(eventId).first<{ status: string }>())
    ?.status;

describe("an identity of some clinics reads and acts on its clinics' rows only (filtered in SQL)", () => {
  it("lists, stats, details, audit and alerts show clinic A's rows; clinic B's answer 404 and are left alone", async () => {
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    const workerEnv = accessEnv({ NOVAMED_CLINIC_IDS: `${a},${b}` });
    const [ofA, ofB] = [await seedClinic(workerEnv, a), await seedClinic(workerEnv, b)];
    const operator = `operator-${crypto.randomUUID().slice(0, 8)}@clinic.example`;
    const staffed = await adminFetchWith(workerEnv, `/staff/${operator}`, {
      method: "PUT",
      body: JSON.stringify({ role: "operator", clinics: [a] }),
    });
    expect(staffed.status).toBe(200);
    const get = async (path: string) => {
      const response = await asAccess(workerEnv, operator, path);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };

    const events = (await get("/events?limit=100")).body.events as { event_id: string }[];
    const eventIds = events.map((event) => event.event_id);
    expect(eventIds).toEqual(expect.arrayContaining([ofA.shipped.event_id, ofA.invalid.event_id]));
    expect(eventIds).not.toContain(ofB.shipped.event_id);
    expect(eventIds).not.toContain(ofB.invalid.event_id);

    const stats = (await get("/stats")).body as { events: { total: number }; notifications: { total: number } };
    expect(stats.events.total).toBe(2);
    const notificationsOfA = await env.DB.prepare(`SELECT COUNT(*) AS n FROM notifications WHERE event_id = ?1`)
      .bind(ofA.shipped.event_id)
      .first<{ n: number }>();
    expect(stats.notifications.total).toBe(notificationsOfA?.n);

    expect((await get(`/events/${ofA.shipped.event_id}`)).status).toBe(200);
    expect((await get(`/events/${ofB.shipped.event_id}`)).status).toBe(404);
    expect((await get(`/orders/${ofA.orderId}`)).status).toBe(200);
    expect((await get(`/orders/${ofB.orderId}`)).status).toBe(404);
    expect((await get(`/notifications/${ofA.notificationId}`)).status).toBe(200);
    expect((await get(`/notifications/${ofB.notificationId}`)).status).toBe(404);

    const alerts = ((await get("/alerts?limit=100")).body.alerts as { alert_id: string }[]).map((x) => x.alert_id);
    expect(alerts).toContain(ofA.alertId);
    expect(alerts).not.toContain(ofB.alertId);

    const audit = (await get("/audit?target_type=patient&limit=100")).body.entries as { target_id: string }[];
    const audited = audit.map((entry) => entry.target_id);
    expect(audited).toContain(ofA.patientId);
    expect(audited).not.toContain(ofB.patientId);

    // Changes: clinic B's alert, event and invalid events are unknown to the operator and stay as they were.
    const post = (path: string, body?: unknown) =>
      asAccess(workerEnv, operator, path, { method: "POST", ...(body ? { body: JSON.stringify(body) } : {}) });
    expect((await post(`/alerts/${ofB.alertId}/ack`)).status).toBe(404);
    expect((await post(`/alerts/${ofA.alertId}/ack`)).status).toBe(200);
    const acknowledged = await env.DB.prepare(
      `SELECT alert_id, acknowledged_by FROM alerts WHERE alert_id IN (?1, ?2) ORDER BY alert_id = ?1 DESC`,
    )
      .bind(ofA.alertId, ofB.alertId)
      .all();
    expect(acknowledged.results).toEqual([
      { alert_id: ofA.alertId, acknowledged_by: operator },
      { alert_id: ofB.alertId, acknowledged_by: null },
    ]);

    vi.spyOn(env.EVENTS, "sendBatch").mockResolvedValue(undefined as never);
    expect((await post(`/events/${ofB.invalid.event_id}/replay`)).status).toBe(404);
    const bulk = await post("/events/replay", { status: "invalid", limit: 1000 });
    expect(bulk.status).toBe(202);
    expect(await statusOf(ofA.invalid.event_id)).toBe("queued");
    expect(await statusOf(ofB.invalid.event_id)).toBe("invalid");
  });
});
