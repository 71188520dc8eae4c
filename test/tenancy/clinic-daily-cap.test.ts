import { describe, expect, it } from "vitest";
import { createClinicPatient, twoClinicEnv } from "../helpers/clinics";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { applyAndCaptureJobs, mockProviders, notificationsOf, runSender } from "../helpers/notifications";

const server = useMockNetwork();

/** Applies `event` and runs its SMS job; returns the text's notification. */
async function textFor(event: ReturnType<typeof makeEvent>, workerEnv: Env) {
  const jobs = (await applyAndCaptureJobs([event])).filter((job) => job.channel === "sms");
  await runSender(jobs, { workerEnv });
  return (await notificationsOf(event.event_id)).sms;
}

describe("the daily cap counts per clinic and patient", () => {
  it("clinic B's texts to a patient id never use up clinic A's cap for the same id", async () => {
    const providers = mockProviders(server);
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    const workerEnv = twoClinicEnv({
      NOVAMED_CLINIC_IDS: `${a},${b}`,
      SMS_DAILY_CAP: "1",
      SMS_SEND_WINDOW: "00:00-24:00",
    });
    // NovaMed's patient ids are per clinic: both clinics know a patient "the same" id (two people).
    const patientId = uniqueId("pat");
    for (const clinicId of [a, b]) await createClinicPatient(workerEnv, clinicId, {}, patientId);
    const orderOf = { [a]: uniqueId("ord"), [b]: uniqueId("ord") };
    const ship = (clinicId: string, type: "order:shipped" | "order:delivered") =>
      makeEvent(type, { clinic_id: clinicId, data: { order_id: orderOf[clinicId], patient_id: patientId } });

    // Clinic B's one text of the day goes first…
    expect(await textFor(ship(b, "order:shipped"), workerEnv)).toMatchObject({ status: "sent" });
    // …and clinic A's patient of the same id still gets clinic A's one text.
    expect(await textFor(ship(a, "order:shipped"), workerEnv)).toMatchObject({ status: "sent" });
    // Each clinic's cap still holds for its own patient: the next text waits for the next day.
    expect(await textFor(ship(a, "order:delivered"), workerEnv)).toMatchObject({
      status: "scheduled",
      error: "daily_cap",
    });
    expect(await textFor(ship(b, "order:delivered"), workerEnv)).toMatchObject({
      status: "scheduled",
      error: "daily_cap",
    });
    expect(providers.sms).toHaveLength(2);
  });
});
