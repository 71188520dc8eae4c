import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { renderedPurgeRun } from "../../src/db/notification-outbox";
import { adminFetch, adminJson } from "../helpers/admin";
import { setClock } from "../helpers/clock";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { applyAndCaptureJobs, createPatient, mockProviders, postTwilio, runSender } from "../helpers/notifications";

const server = useMockNetwork();

interface NotificationDetail {
  notification_id: string;
  channel: string;
  kind: string;
  status: string;
  provider: string | null;
  provider_message_id: string | null;
  history: { status: string; at: string; error: string | null; provider_message_id: string | null }[];
  rendered: { subject?: string; text: string; headers?: Record<string, string> } | null;
}

async function deliveryReport(notificationId: string, sid: string) {
  await postTwilio(`status?notification_id=${notificationId}`, { MessageSid: sid, MessageStatus: "delivered" });
}

describe("GET /admin/notifications/:notification_id", () => {
  it("shows what the patient was told and when: every status with its time, provider ids, the rendered message", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient({ timezone: "America/New_York" });
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
    // 03:00 in New York: the SMS waits for 08:00, the email goes at once.
    setClock("2026-01-15T08:00:00Z");
    const jobs = await applyAndCaptureJobs([event]);
    await runSender(jobs, { now: Date.parse("2026-01-15T08:00:00Z") });
    setClock("2026-01-15T13:00:00Z");
    await runSender(
      jobs.filter((job) => job.channel === "sms"),
      { now: Date.parse("2026-01-15T13:00:00Z") },
    );

    // The event detail lists its notifications with their ids.
    const { body: eventView } = await adminJson<{ notifications: { notification_id: string; channel: string }[] }>(
      `/events/${event.event_id}`,
    );
    const ids = Object.fromEntries(eventView.notifications.map((item) => [item.channel, item.notification_id]));
    const sms = await adminJson<NotificationDetail>(`/notifications/${ids.sms}`);
    expect(sms.status).toBe(200);
    const sid = sms.body.provider_message_id!;
    expect(sid).toMatch(/^SM/);
    await deliveryReport(ids.sms!, sid);

    const { body } = await adminJson<NotificationDetail>(`/notifications/${ids.sms}`);
    expect(body).toMatchObject({
      notification_id: ids.sms,
      channel: "sms",
      kind: "order_shipped",
      status: "delivered",
      provider: "twilio",
      provider_message_id: sid,
      rendered: { text: providers.sms[0]!.body },
    });
    expect(body.history.map(({ status, at }) => [status, at])).toEqual([
      ["pending", "2026-01-15T08:00:00.000Z"],
      ["scheduled", "2026-01-15T08:00:00.000Z"],
      ["sent", "2026-01-15T13:00:00.000Z"],
      ["delivered", "2026-01-15T13:00:00.000Z"],
    ]);
    expect(body.history[3]!.provider_message_id).toBe(sid);

    const { body: email } = await adminJson<NotificationDetail>(`/notifications/${ids.email}`);
    expect(email.rendered).toEqual({
      subject: providers.emails[0]!.body.subject,
      text: providers.emails[0]!.body.text,
      headers: {
        "List-Unsubscribe": expect.stringMatching(/^<https:\/\/receiver\.test\/u\/[A-Za-z0-9_-]+>$/),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      },
    });
    expect(email.history.map((change) => change.status)).toEqual(["pending", "sent"]);
  });

  it("shows the rendered message only until retention purges it; 404 for an unknown id", async () => {
    mockProviders(server);
    const event = makeEvent("order:delivered", {
      data: { order_id: uniqueId("ord"), patient_id: await createPatient() },
    });
    const jobs = await applyAndCaptureJobs([event]);
    await runSender(jobs);
    const { body: eventView } = await adminJson<{ notifications: { notification_id: string }[] }>(
      `/events/${event.event_id}`,
    );
    const id = eventView.notifications[0]!.notification_id;
    expect((await adminJson<NotificationDetail>(`/notifications/${id}`)).body.rendered).not.toBeNull();
    const purge = renderedPurgeRun(env.DB, { cutoff: "2100-01-01T00:00:00Z", now: "2100-01-01T00:00:00Z", chunk: 500 });
    while ((await purge.next()) > 0);
    const { body } = await adminJson<NotificationDetail>(`/notifications/${id}`);
    expect(body.rendered).toBeNull();
    expect(body.status).toBe("sent");
    const missing = await adminFetch("/notifications/ntf_unknown");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "not_found" } });
  });
});
