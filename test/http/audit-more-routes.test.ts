import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { adminFetch } from "../helpers/admin";
import { auditRowsOf } from "../helpers/audit";
import { makeEvent, uniqueId } from "../helpers/events";
import { applyAndCaptureJobs, createPatient, notificationsOf } from "../helpers/notifications";
import { EVENTS_QUEUE, eventMessage, runBatch, runDeadLetter } from "../helpers/queue";
import { alertsOn, runWatch } from "../helpers/watch";

const post = (path: string, body: unknown) =>
  adminFetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/** The newest audit row of an action over many targets (`*`). */
async function latestBulkRow(targetType: string, action: string) {
  const rows = (await auditRowsOf(targetType, "*")).filter((row) => row.action === action);
  return rows.at(-1);
}

describe("the audit trail covers the routes of the durability, messaging and watch work", () => {
  it("bulk re-drive: one row with the actor and the count, never the events' content", async () => {
    const event = makeEvent("order:shipped", { data: { order_id: undefined } });
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    const send = vi.spyOn(env.EVENTS, "sendBatch");
    expect((await post("/events/replay", { status: "invalid", limit: 1000 })).status).toBe(202);
    expect(send).toHaveBeenCalled();
    const row = await latestBulkRow("event", "event.bulk_replay");
    expect(row).toMatchObject({ actor: "token:admin", outcome: "success", status: 202 });
    expect(JSON.parse(row!.detail!).replayed).toBeGreaterThanOrEqual(1);
  });

  it("a rejected bulk re-drive is recorded as rejected", async () => {
    expect((await post("/events/replay", { status: "processed" })).status).toBe(400);
    expect(await latestBulkRow("event", "event.bulk_replay")).toMatchObject({ outcome: "rejected", status: 400 });
  });

  it("reading what we told a patient (the rendered message) and releasing held notifications", async () => {
    const patientId = await createPatient();
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
    await applyAndCaptureJobs([event]);
    const { sms } = await notificationsOf(event.event_id);
    expect((await adminFetch(`/notifications/${sms!.notification_id}`)).status).toBe(200);
    expect(await auditRowsOf("notification", sms!.notification_id)).toMatchObject([
      { action: "notification.read", actor: "token:admin", outcome: "success" },
    ]);
    expect((await adminFetch(`/notifications/ntf_${uniqueId("missing")}`)).status).toBe(404);

    expect((await post("/notifications/replay", { status: "held" })).status).toBe(202);
    expect(await latestBulkRow("notification", "notification.replay")).toMatchObject({
      actor: "token:admin",
      outcome: "success",
    });
  });

  it("acknowledging an alert: the alert names the actor, and so does its audit row", async () => {
    const event = makeEvent("order:created", { data: { order_id: uniqueId("ord") } });
    await runDeadLetter(event, 11);
    await runWatch(Date.now());
    const [alert] = await alertsOn(event.event_id);
    expect(alert).toBeDefined();
    const response = await adminFetch(`/alerts/${alert!.alert_id}/ack`, { method: "POST" });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ acknowledged_by: "token:admin" });
    expect(await auditRowsOf("alert", alert!.alert_id)).toMatchObject([
      { action: "alert.ack", actor: "token:admin", outcome: "success" },
    ]);
  });
});
