import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { SendJob } from "../../src/queue/send-job";
import { accessEnv, consoleAsAccessIdentity } from "../helpers/access";
import { auditRowsOf } from "../helpers/audit";
import { adminFetchWith } from "../helpers/clinics";
import { consoleFetch, csrfTokenOf, signIn } from "../helpers/console";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import * as outbox from "../helpers/notifications";

const server = useMockNetwork();
const { applyAndCaptureJobs, createPatient, mockProviders, notificationsOf, providerEnv, runSender } = outbox;

/** An order:shipped event for a new patient, applied and sent once with `workerEnv`. */
async function shippedAndSent(workerEnv: Env, patient: Parameters<typeof createPatient>[0] = {}) {
  const patientId = await createPatient(patient);
  const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
  await runSender(await applyAndCaptureJobs([event]), { workerEnv });
  return { event, notifications: await notificationsOf(event.event_id) };
}

/** Posts the console's send form; returns the answer and the send jobs it enqueued. */
async function send(notificationId: string, session: { cookie: string; csrf: string }) {
  const sendBatch = vi.spyOn(env.NOTIFICATIONS, "sendBatch").mockResolvedValue(undefined as never);
  try {
    const response = await consoleFetch(`/console/notifications/${notificationId}/send`, {
      cookie: session.cookie,
      form: { _csrf: session.csrf },
    });
    const jobs = sendBatch.mock.calls.flatMap(([messages]) => [...messages].map((message) => message.body as SendJob));
    return { response, jobs };
  } finally {
    sendBatch.mockRestore();
  }
}

describe("every status says why and what to do; operators send held and capped messages", () => {
  it("explains a held SMS with its variable, sends it after the fix (checked again), audited", async () => {
    mockProviders(server);
    const { event, notifications } = await shippedAndSent(providerEnv({ SMS_PROVIDER: "" }));
    const held = notifications.sms!;
    expect(held.status).toBe("held");
    const session = await signIn();
    const page = await (await consoleFetch(`/console/events/${event.event_id}`, { cookie: session.cookie })).text();
    expect(page).toContain("The SMS provider or a notification setting is not configured (<code>SMS_PROVIDER</code>).");
    expect(page).toContain("What to do: set the variable");
    expect(page).toContain(`action="/console/notifications/${held.notification_id}/send"`);
    // The email was sent: nothing to explain, no button.
    expect(page).not.toContain(`action="/console/notifications/${notifications.email!.notification_id}/send"`);

    const refused = await consoleFetch(`/console/notifications/${held.notification_id}/send`, {
      cookie: session.cookie,
      form: { _csrf: "forged" },
    });
    expect(refused.status).toBe(403);
    expect((await notificationsOf(event.event_id)).sms!.status).toBe("held");

    const { response, jobs } = await send(held.notification_id, session);
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(`/console/events/${event.event_id}?sent=sms`);
    expect(jobs).toEqual([expect.objectContaining({ event_id: event.event_id, channel: "sms" })]);
    expect((await notificationsOf(event.event_id)).sms).toMatchObject({ status: "pending", error: null });
    expect((await auditRowsOf("notification", held.notification_id)).map((row) => [row.action, row.outcome])).toEqual([
      ["notification.send", "success"],
    ]);
    // The sender decides it afresh: with the provider still missing it is held again; once set, sent.
    await runSender(jobs, { workerEnv: providerEnv({ SMS_PROVIDER: "" }) });
    expect((await notificationsOf(event.event_id)).sms!.status).toBe("held");
    const again = await send(held.notification_id, session);
    await runSender(again.jobs, { workerEnv: providerEnv() });
    expect((await notificationsOf(event.event_id)).sms!.status).toBe("sent");
    // Sent: nothing left to send.
    const late = await send(held.notification_id, session);
    expect(late.response.status).toBe(409);
    expect(late.jobs).toEqual([]);
  });

  it("names the daily cap's value and setting; a consent suppression has no send button and is refused", async () => {
    mockProviders(server);
    const capped = providerEnv({ SMS_DAILY_CAP: "1", SMS_SEND_WINDOW: "00:00-24:00" });
    const patientId = await createPatient();
    const first = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
    const second = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
    await runSender(await applyAndCaptureJobs([first]), { workerEnv: capped });
    await runSender(await applyAndCaptureJobs([second]), { workerEnv: capped });
    // Over the cap it waits for the patient's next allowed day (issue 23); staff may send it now.
    const over = (await notificationsOf(second.event_id)).sms!;
    expect(over).toMatchObject({ status: "scheduled", reason: "daily_cap" });

    const session = await signIn();
    const page = await (await consoleFetch(`/console/events/${second.event_id}`, { cookie: session.cookie })).text();
    // The console's env keeps the default cap of 3: the page names the clinic's effective value.
    expect(page).toContain(
      "Daily SMS limit of 3 reached for this patient; it waits for the patient&#39;s next allowed day (<code>SMS_DAILY_CAP</code>).",
    );
    expect(page).toContain(`action="/console/notifications/${over.notification_id}/send"`);
    const { response, jobs } = await send(over.notification_id, session);
    expect(response.status).toBe(303);
    expect(jobs).toHaveLength(1);
    // Re-checked at send: still over the cap of 1 today, so it waits again.
    await runSender(jobs, { workerEnv: capped });
    expect((await notificationsOf(second.event_id)).sms).toMatchObject({ status: "scheduled", reason: "daily_cap" });

    const { event, notifications } = await shippedAndSent(providerEnv(), { sms_opt_in: false });
    const unwanted = notifications.sms!;
    expect(unwanted).toMatchObject({ status: "suppressed", error: "sms not opted in" });
    const consentPage = await (
      await consoleFetch(`/console/events/${event.event_id}`, { cookie: session.cookie })
    ).text();
    expect(consentPage).toContain("The patient has not agreed to texts.");
    expect(consentPage).not.toContain(`/console/notifications/${unwanted.notification_id}/send`);
    expect((await send(unwanted.notification_id, session)).response.status).toBe(409);
    expect((await notificationsOf(event.event_id)).sms!.status).toBe("suppressed");
  });

  it("refuses a viewer's send (403) and shows a viewer no send button", async () => {
    mockProviders(server);
    const { event, notifications } = await shippedAndSent(providerEnv({ SMS_PROVIDER: "" }));
    const held = notifications.sms!;
    const clinicId = env.NOVAMED_CLINIC_IDS.split(",")[0]!;
    const workerEnv = accessEnv({ ADMIN_TOKEN: undefined });
    await adminFetchWith(accessEnv(), "/staff/viewer-send@clinic.example", {
      method: "PUT",
      body: JSON.stringify({ role: "viewer", clinics: [clinicId] }),
    });
    const asViewer = await consoleAsAccessIdentity(server, workerEnv, "viewer-send@clinic.example");
    const page = await (await asViewer(`/console/events/${event.event_id}`)).text();
    expect(page).toContain("<code>SMS_PROVIDER</code>");
    expect(page).not.toContain("Send now");
    const refused = await asViewer(`/console/notifications/${held.notification_id}/send`, { _csrf: csrfTokenOf(page) });
    expect(refused.status).toBe(403);
    expect((await notificationsOf(event.event_id)).sms!.status).toBe("held");
  });
});

describe("the overview breaks held and suppressed notifications down by reason", () => {
  it("counts each reason with its sentence, and every card names its time window", async () => {
    mockProviders(server);
    await shippedAndSent(providerEnv({ SMS_PROVIDER: "" }));
    await shippedAndSent(providerEnv(), { sms_opt_in: false });
    const session = await signIn();
    const html = await (await consoleFetch("/console", { cookie: session.cookie })).text();
    const card = (id: string) =>
      html.slice(html.indexOf(`id="${id}"`), html.indexOf("</div>", html.indexOf(`id="${id}"`)));
    expect(card("held-reasons")).toMatch(
      /<li data-reason="SMS_PROVIDER is not set \(twilio or log\)">\d+ — the SMS or email provider or a notification setting is not configured/,
    );
    expect(card("suppressed-reasons")).toMatch(
      /<li data-reason="sms not opted in">\d+ — the patient has not agreed to texts/,
    );
    const cards = html.slice(html.indexOf('<div class="cards">'), html.indexOf("<h2>Clinics</h2>"));
    const cardCount = cards.match(/class="card[ "]/g)?.length ?? 0;
    expect(cardCount).toBeGreaterThanOrEqual(7);
    expect(cards.match(/<span class="window">/g)?.length).toBe(cardCount);
  });
});
