import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { archiveFinishedHistory } from "../../src/archive/run";
import { adminJson } from "../helpers/admin";
import { onlyAuditRowOf } from "../helpers/audit";
import { TEST_NOW } from "../helpers/clock";
import { consoleFetch, signIn } from "../helpers/console";
import { uniqueId } from "../helpers/events";
import { newClinic, seedFinishedDay } from "./helpers";

async function archivedEvent() {
  const seeded = await seedFinishedDay(newClinic(), "2025-07-01", 3);
  const result = await archiveFinishedHistory(env, new Date(TEST_NOW), { queryBudget: 600 });
  expect(result.deleted).toBeGreaterThan(0);
  const eventId = seeded.eventIds[1] ?? "";
  expect(await env.DB.prepare(`SELECT 1 FROM events WHERE event_id = ?1`).bind(eventId).first()).toBeNull();
  return { eventId, notificationId: seeded.notificationIds[1] };
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
    const { cookie } = await signIn();
    const response = await consoleFetch(`/console/events/${eventId}`, { cookie });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain("Archived: this finished event");
    expect(html).toContain("Archived events cannot be replayed.");
    expect(html).not.toContain("Replay this event");
  });
});
