import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import { adminFetch } from "../helpers/admin";
import { consoleFetch, signIn } from "../helpers/console";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { mockProviders, PROVIDER_ENV } from "../helpers/notifications";
import { CANARY, captureConsole, leakedCanaries } from "../helpers/phi-canary";
import { EVENTS_QUEUE, eventMessage, runBatch, runDeadLetter } from "../helpers/queue";
import { applyAt, DAY, runWatch } from "../helpers/watch";

const server = useMockNetwork();

const WEBHOOK_URL = "https://hooks.slack.test/services/T0000/B0000/canary";

describe("PHI canary: lifecycle alerts", () => {
  it("keeps names, contacts, addresses and medications out of alert texts, emails, logs, the API and the page", async () => {
    const webhookTexts: string[] = [];
    server.use(
      http.post(WEBHOOK_URL, async ({ request }) => {
        webhookTexts.push(JSON.stringify(await request.json()));
        return HttpResponse.text("ok");
      }),
    );
    const providers = mockProviders(server);
    const t0 = Date.parse("2026-08-03T00:00:00.000Z");
    const phi = {
      patient_id: uniqueId("pat"),
      patient_name: CANARY.name,
      patient_phone: CANARY.phone,
      patient_email: CANARY.email,
      medication_name: CANARY.medication,
      shipping_address: { line1: CANARY.address, city: CANARY.city, state: "CA", zip: "94102" },
    };
    const capture = captureConsole();
    const outputs: string[] = [];
    try {
      await applyAt(t0, "medication_request:approved", { ...phi, medication_request_id: uniqueId("mr") });
      await applyAt(t0, "order:created", { ...phi, order_id: uniqueId("ord") });
      await applyAt(t0, "order:shipped", { ...phi, order_id: uniqueId("ord"), estimated_delivery: undefined });
      await applyAt(t0, "refill:requested", { ...phi, refill_id: uniqueId("ref") });
      await runBatch(EVENTS_QUEUE, [
        eventMessage(makeEvent("order:shipped", { data: { ...phi, order_id: { x: CANARY.name } } })),
      ]);
      await runDeadLetter(makeEvent("refill:requested", { data: { ...phi, refill_id: uniqueId("ref") } }), 11);

      const watchEnv = { ...PROVIDER_ENV, ALERT_WEBHOOK_URL: WEBHOOK_URL, ALERT_EMAIL_TO: "ops@clinic.example" };
      await runWatch(t0 + 8 * DAY, watchEnv);
      await runWatch(t0 + 8 * DAY + 13 * 3_600_000, watchEnv);

      outputs.push(await (await adminFetch("/alerts?state=open&limit=100")).text());
      const { cookie } = await signIn();
      outputs.push(await (await consoleFetch("/console/alerts", { cookie })).text());
    } finally {
      capture.stop();
    }
    const emails = providers.emails.map((email) => JSON.stringify(email.body));
    // Every rule above opened and was told, in an opened notice and a digest, on both channels.
    for (const rule of [
      "medication_request:approved",
      "order:created",
      "order:shipped",
      "refill:requested",
      "event_invalid",
      "event_dead",
    ]) {
      expect(webhookTexts.join("\n"), rule).toContain(rule);
      expect(emails.join("\n"), rule).toContain(rule);
    }
    expect(webhookTexts.join("\n")).toContain("daily digest");
    expect(leakedCanaries([...webhookTexts, ...emails, ...outputs, capture.output()].join("\n"))).toEqual([]);
  });
});
