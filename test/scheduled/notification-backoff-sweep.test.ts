import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { http } from "msw";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { CRONS } from "../../src/scheduled/dispatch";
import { STALE_AFTER_MS } from "../../src/scheduled/notification-sweep";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import {
  applyAndCaptureJobs,
  createPatient,
  DAYTIME,
  mockProviders,
  runSender,
  twilioError,
} from "../helpers/notifications";

const server = useMockNetwork();

/** Runs the 5-minute cron at `at`; returns the send jobs it enqueued for `eventId`. */
async function sweepJobsFor(eventId: string, at: number): Promise<string[]> {
  const sendBatch = vi.spyOn(env.NOTIFICATIONS, "sendBatch").mockResolvedValue(undefined as never);
  try {
    await worker.scheduled(
      createScheduledController({ scheduledTime: new Date(at), cron: CRONS.notificationSweep }),
      env,
    );
    return sendBatch.mock.calls
      .flatMap(([messages]) => [...messages].map((message) => message.body as { event_id: string; channel: string }))
      .filter((job) => job.event_id === eventId)
      .map((job) => job.channel);
  } finally {
    sendBatch.mockRestore();
  }
}

describe("notification sweep and retry backoff", () => {
  it("leaves a row alone while it waits out its backoff, and re-enqueues it once the retry is overdue", async () => {
    const patientId = await createPatient();
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
    const jobs = (await applyAndCaptureJobs([event])).filter((job) => job.channel === "sms");
    mockProviders(server);
    server.use(
      http.post(
        "https://api.twilio.com/2010-04-01/Accounts/:sid/Messages.json",
        () => twilioError(503, 20500, "Unavailable"),
        {
          once: true,
        },
      ),
    );
    // The eighth attempt backs off 7.5 to 15 minutes, longer than the sweep's staleness threshold.
    const failed = await runSender(jobs, { attempts: 8 });
    const delaySeconds = failed.retryMessages[0]?.delaySeconds ?? 0;
    expect(delaySeconds).toBeGreaterThan(STALE_AFTER_MS / 1000);

    expect(await sweepJobsFor(event.event_id, DAYTIME + STALE_AFTER_MS + 60_000)).not.toContain("sms");
    expect(await sweepJobsFor(event.event_id, DAYTIME + delaySeconds * 1000 + STALE_AFTER_MS + 60_000)).toContain(
      "sms",
    );
  });
});
