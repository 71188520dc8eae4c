import { describe, expect, it } from "vitest";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import {
  applyAndCaptureJobs,
  createPatient,
  DAYTIME,
  mockProviders,
  notificationsOf,
  runSender,
} from "../helpers/notifications";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

const server = useMockNetwork();

const FIRST_TRACKING = "1Z999AA10123456784";
const NEW_TRACKING = "1Z999AA10123456795";
const trackingLink = (number: string) => `https://www.ups.com/track?tracknum=${number}`;

/** An order:shipped for one order at an hour of 15 January (UTC), carrying a tracking number. */
function shipped(orderId: string, patientId: string, hour: number, trackingNumber: string) {
  return makeEvent("order:shipped", {
    timestamp: `2026-01-15T${String(hour).padStart(2, "0")}:00:00Z`,
    data: { order_id: orderId, patient_id: patientId, carrier: "UPS", tracking_number: trackingNumber },
  });
}

async function applyAndSend(events: ReturnType<typeof shipped>[], now = DAYTIME) {
  const jobs = await applyAndCaptureJobs(events);
  return runSender(jobs, { now });
}

describe("at most one message per (entity, status)", () => {
  it("a second order:shipped with a new event_id and the same tracking texts and emails nobody again", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const orderId = uniqueId("ord");
    await applyAndSend([shipped(orderId, patientId, 12, FIRST_TRACKING)]);
    expect(providers.sms).toHaveLength(1);
    expect(providers.emails).toHaveLength(1);

    const again = shipped(orderId, patientId, 13, FIRST_TRACKING);
    const result = await applyAndSend([again], DAYTIME + 60_000);
    expect(result.explicitAcks).toHaveLength(2);
    expect(providers.sms).toHaveLength(1);
    expect(providers.emails).toHaveLength(1);
    expect(await notificationsOf(again.event_id)).toEqual({});
  });

  it("a later event that changes the tracking number sends exactly one 'tracking updated' message per channel", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const orderId = uniqueId("ord");
    await applyAndSend([shipped(orderId, patientId, 12, FIRST_TRACKING)]);

    const reissued = shipped(orderId, patientId, 13, NEW_TRACKING);
    await applyAndSend([reissued], DAYTIME + 60_000);
    expect(providers.sms).toHaveLength(2);
    expect(providers.sms[1]!.body).toBe(
      `Sunrise Clinic: the tracking number for your order was updated (UPS). Track: ${trackingLink(NEW_TRACKING)} Reply STOP to opt out.`,
    );
    expect(providers.emails).toHaveLength(2);
    expect(providers.emails[1]!.body.subject).toBe("Sunrise Clinic: your tracking number was updated");
    expect(providers.emails[1]!.body.text).toContain(`New tracking number: ${NEW_TRACKING}`);
    expect(await notificationsOf(reissued.event_id)).toMatchObject({
      sms: { status: "sent" },
      email: { status: "sent" },
    });

    // The same new number again (another event, then a redelivery of the first): nothing more.
    const repeated = shipped(orderId, patientId, 14, NEW_TRACKING);
    await applyAndSend([repeated], DAYTIME + 120_000);
    await runBatch(EVENTS_QUEUE, [eventMessage(reissued, 2)]);
    expect(providers.sms).toHaveLength(2);
    expect(providers.emails).toHaveLength(2);
  });

  it("two shipped events waiting together send one shipping message with the latest tracking, no update", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const orderId = uniqueId("ord");
    const first = shipped(orderId, patientId, 12, FIRST_TRACKING);
    const second = shipped(orderId, patientId, 13, NEW_TRACKING);
    const jobs = [...(await applyAndCaptureJobs([first])), ...(await applyAndCaptureJobs([second]))];
    await runSender(jobs);
    expect(providers.sms.map((sms) => sms.body)).toEqual([
      `Sunrise Clinic: your order has shipped via UPS. Track: ${trackingLink(NEW_TRACKING)} Reply STOP to opt out.`,
    ]);
    expect(providers.emails).toHaveLength(1);
    expect((await notificationsOf(first.event_id)).sms!.status).toBe("sent");
  });
});
