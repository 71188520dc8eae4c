import { describe, expect, it } from "vitest";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import {
  applyAndCaptureJobs,
  createPatient,
  mockProviders,
  notificationsOf,
  runSender,
} from "../helpers/notifications";

const server = useMockNetwork();

describe("re-check at send time: no stale messages", () => {
  it("shipped at 22:00 and cancelled at 23:00 both wait for 08:00; only the cancellation goes out", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient({ timezone: "America/New_York" });
    const orderId = uniqueId("ord");
    const data = { order_id: orderId, patient_id: patientId };
    // 22:00 and 23:00 in New York on 15 January (03:00Z and 04:00Z on the 16th).
    const shipped = makeEvent("order:shipped", { timestamp: "2026-01-16T03:00:00Z", data });
    const cancelled = makeEvent("order:cancelled", { timestamp: "2026-01-16T04:00:00Z", data });
    const shippedJobs = (await applyAndCaptureJobs([shipped])).filter((job) => job.channel === "sms");
    const evening = await runSender(shippedJobs, { now: Date.parse("2026-01-16T03:00:05Z") });
    expect(evening.delayed).toHaveLength(1);
    const cancelledJobs = (await applyAndCaptureJobs([cancelled])).filter((job) => job.channel === "sms");
    await runSender(cancelledJobs, { now: Date.parse("2026-01-16T04:00:05Z") });
    expect((await notificationsOf(cancelled.event_id)).sms!.status).toBe("scheduled");

    // 08:00 in New York: both scheduled jobs arrive together.
    const morning = await runSender([...shippedJobs, ...cancelledJobs], { now: Date.parse("2026-01-16T13:00:00Z") });
    expect(morning.explicitAcks).toHaveLength(2);
    expect(providers.sms).toHaveLength(1);
    expect(providers.sms[0]!.body).toContain("cancelled");
    expect((await notificationsOf(shipped.event_id)).sms).toMatchObject({
      status: "superseded",
      error: "entity now cancelled",
    });
    expect((await notificationsOf(cancelled.event_id)).sms!.status).toBe("sent");
  });

  it("after a queue outage, an hour-old shipped is not sent next to delivered, on either channel", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const data = { order_id: uniqueId("ord"), patient_id: patientId };
    const shipped = makeEvent("order:shipped", { timestamp: "2026-01-15T13:00:00Z", data });
    const delivered = makeEvent("order:delivered", { timestamp: "2026-01-15T14:00:00Z", data });
    const jobs = [...(await applyAndCaptureJobs([shipped])), ...(await applyAndCaptureJobs([delivered]))];
    await runSender(jobs);
    expect(providers.sms.map((sms) => sms.body)).toEqual([expect.stringContaining("delivered")]);
    expect(providers.emails.map((email) => email.body.subject)).toEqual([expect.stringContaining("delivered")]);
    const stale = await notificationsOf(shipped.event_id);
    expect(stale.sms).toMatchObject({ status: "superseded", error: "entity now delivered" });
    expect(stale.email).toMatchObject({ status: "superseded", error: "entity now delivered" });
  });

  it("a refill approved then denied (equal rank, later timestamp wins) sends only the denial", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const data = { refill_id: uniqueId("ref"), patient_id: patientId };
    const approved = makeEvent("refill:approved", { timestamp: "2026-01-15T13:00:00Z", data });
    const denied = makeEvent("refill:denied", { timestamp: "2026-01-15T13:05:00Z", data });
    const jobs = [...(await applyAndCaptureJobs([approved])), ...(await applyAndCaptureJobs([denied]))];
    await runSender(jobs.filter((job) => job.channel === "sms"));
    expect(providers.sms).toHaveLength(1);
    expect(providers.sms[0]!.body).toContain("could not approve");
    expect((await notificationsOf(approved.event_id)).sms).toMatchObject({ status: "superseded" });
  });
});
