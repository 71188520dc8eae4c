import { describe, expect, it } from "vitest";
import { setClock } from "../helpers/clock";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import {
  applyAndCaptureJobs,
  createPatient,
  mockProviders,
  notificationsOf,
  providerEnv,
  runSender,
} from "../helpers/notifications";

const server = useMockNetwork();

/** Applies one shipped event for the patient at `at` and runs its jobs of `channel` at the same instant. */
async function shipAt(patientId: string, at: string, channel: "sms" | "email", workerEnv: Env) {
  const now = setClock(at);
  const event = makeEvent("order:shipped", {
    timestamp: at,
    data: { order_id: uniqueId("ord"), patient_id: patientId },
  });
  const jobs = (await applyAndCaptureJobs([event])).filter((job) => job.channel === channel);
  await runSender(jobs, { workerEnv, now });
  return (await notificationsOf(event.event_id))[channel]!;
}

describe("per-patient daily cap", () => {
  it("3 SMS per local day by default: the 4th before the patient's midnight is suppressed, the next day's goes", async () => {
    const providers = mockProviders(server);
    // Los Angeles: local midnight is 08:00Z. SMS are allowed all day for this test.
    const workerEnv = providerEnv({ SMS_SEND_WINDOW: "00:00-24:00" });
    const patientId = await createPatient({ timezone: "America/Los_Angeles" });
    const evening = ["2026-01-16T07:00:00Z", "2026-01-16T07:20:00Z", "2026-01-16T07:40:00Z"]; // 23:00-23:40
    for (const at of evening) expect((await shipAt(patientId, at, "sms", workerEnv)).status).toBe("sent");
    // 23:50 local, still the same day for the patient (though already the 16th in UTC since midnight UTC).
    const fourth = await shipAt(patientId, "2026-01-16T07:50:00Z", "sms", workerEnv);
    expect(fourth).toMatchObject({
      status: "suppressed",
      error: "daily_cap",
    });
    // 00:10 local: a new day for the patient.
    expect((await shipAt(patientId, "2026-01-16T08:10:00Z", "sms", workerEnv)).status).toBe("sent");
    expect(providers.sms).toHaveLength(4);
  });

  it("counts by the patient's day, not UTC's: sends before UTC midnight still count after it", async () => {
    mockProviders(server);
    const workerEnv = providerEnv({ SMS_SEND_WINDOW: "00:00-24:00", SMS_DAILY_CAP: "1" });
    const patientId = await createPatient({ timezone: "America/New_York" });
    // 18:30 and 19:30 in New York on the 15th: 23:30Z on the 15th, then 00:30Z on the 16th.
    expect((await shipAt(patientId, "2026-01-15T23:30:00Z", "sms", workerEnv)).status).toBe("sent");
    expect((await shipAt(patientId, "2026-01-16T00:30:00Z", "sms", workerEnv)).error).toBe("daily_cap");
  });

  it("5 emails by default, configurable, and a burst within one batch is capped too", async () => {
    const providers = mockProviders(server);
    const patientId = await createPatient();
    const events = Array.from({ length: 7 }, () =>
      makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } }),
    );
    const jobs = (await applyAndCaptureJobs(events)).filter((job) => job.channel === "email");
    await runSender(jobs);
    expect(providers.emails).toHaveLength(5);
    const statuses = await Promise.all(events.map(async (event) => (await notificationsOf(event.event_id)).email!));
    expect(statuses.filter((email) => email.error === "daily_cap")).toHaveLength(2);

    const other = await createPatient();
    const more = await applyAndCaptureJobs([
      makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: other } }),
      makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: other } }),
    ]);
    await runSender(
      more.filter((job) => job.channel === "email"),
      { workerEnv: providerEnv({ EMAIL_DAILY_CAP: "1" }) },
    );
    expect(providers.emails).toHaveLength(6);
  });
});
