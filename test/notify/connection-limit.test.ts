import { env } from "cloudflare:workers";
import { delay, HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import { connectionLimit } from "../../src/notify/connection-limit";
import { sendNotifications } from "../../src/notify/sender";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { applyAndCaptureJobs, createPatient, DAYTIME, providerEnv, runSender } from "../helpers/notifications";

const server = useMockNetwork();

/**
 * A slow Twilio behind the Workers runtime's connection pool. The runtime keeps at most 6
 * connections of an invocation open; a seventh request waits for one while its own timeout runs, and
 * behind 6 calls to a slow provider it times out before it is ever sent. The fake models exactly
 * that: a request arriving while 6 are already open fails as that timeout would (the sender sees an
 * `unknown` outcome) and never reaches Twilio; the others are created after a delay. No wall-clock
 * assertion: only counts of open requests and outcomes.
 */
function slowTwilioBehindSixConnections() {
  let open = 0;
  let mostOpen = 0;
  let timedOutWaiting = 0;
  const created: string[] = [];
  server.use(
    http.post("https://api.twilio.com/2010-04-01/Accounts/:accountSid/Messages.json", async ({ request }) => {
      if (open >= 6) {
        timedOutWaiting += 1;
        return HttpResponse.error();
      }
      open += 1;
      mostOpen = Math.max(mostOpen, open);
      try {
        const form = new URLSearchParams(await request.text());
        await delay(5);
        const sid = `SM${crypto.randomUUID().replaceAll("-", "")}`;
        created.push(sid);
        return HttpResponse.json({ sid, to: form.get("To"), status: "accepted" }, { status: 201 });
      } finally {
        open -= 1;
      }
    }),
  );
  return { created, mostOpen: () => mostOpen, timedOutWaiting: () => timedOutWaiting, open: () => open };
}

describe("provider calls and the runtime's 6 connections", () => {
  it("50 SMS to a slow provider: never more than 6 calls open, none unknown because it waited, all sent once", async () => {
    const twilio = slowTwilioBehindSixConnections();
    const events = [];
    for (let index = 0; index < 50; index += 1) {
      const phone = `+1415556${String(index).padStart(4, "0")}`;
      const patientId = await createPatient({ phone, email: null });
      events.push(makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } }));
    }
    const jobs = (await applyAndCaptureJobs(events)).filter((job) => job.channel === "sms");
    expect(jobs).toHaveLength(50);
    const result = await runSender(jobs);
    expect(twilio.timedOutWaiting()).toBe(0);
    expect(twilio.mostOpen()).toBe(6);
    expect(result.explicitAcks).toHaveLength(50);
    expect(twilio.created).toHaveLength(50);
    const { results } = await env.DB.prepare(
      `SELECT status, COUNT(*) AS count FROM notifications
WHERE event_id IN (SELECT value FROM json_each(?1)) AND channel = 'sms' GROUP BY status`,
    )
      .bind(JSON.stringify(events.map((event) => event.event_id)))
      .all<{ status: string; count: number }>();
    expect(results).toEqual([{ status: "sent", count: 50 }]);
  }, 60_000);

  it("a call that waited so long for a connection that it could outlive the send lease is not made", async () => {
    const twilio = slowTwilioBehindSixConnections();
    const events = [];
    for (let index = 0; index < 7; index += 1) {
      const patientId = await createPatient({ phone: `+1415557${String(index).padStart(4, "0")}`, email: null });
      events.push(makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } }));
    }
    const jobs = (await applyAndCaptureJobs(events)).filter((job) => job.channel === "sms");
    // The injected clock: the claim at DAYTIME; once the first six calls are under way, 50 s have
    // passed (a slow provider), so the seventh would start with 10 s of a 60 s lease left.
    const clock = () => (twilio.created.length + twilio.open() >= 6 ? DAYTIME + 50_000 : DAYTIME);
    const run = await sendNotifications(
      providerEnv(),
      jobs.map((job) => ({ job, attempts: 1 })),
      { now: clock },
    );
    expect(twilio.created).toHaveLength(6);
    expect(run.verdicts.filter((verdict) => verdict.action === "retry")).toHaveLength(1);
    // The retry (after the lease) looks the message up, finds nothing, and sends it once.
    server.use(
      http.get("https://api.twilio.com/2010-04-01/Accounts/:accountSid/Messages.json", () =>
        HttpResponse.json({ messages: [], next_page_uri: null }),
      ),
    );
    const retry = await runSender(jobs, { now: DAYTIME + 61_000, attempts: 2 });
    expect(retry.explicitAcks).toHaveLength(7);
    expect(twilio.created).toHaveLength(7);
  });

  it("lets at most the limit run at once and hands each freed slot to the next waiter in order", async () => {
    const withConnection = connectionLimit(2);
    const gates = Array.from({ length: 5 }, () => Promise.withResolvers<void>());
    const started: number[] = [];
    let open = 0;
    let mostOpen = 0;
    const runs = gates.map((gate, index) =>
      withConnection(async () => {
        started.push(index);
        open += 1;
        mostOpen = Math.max(mostOpen, open);
        await gate.promise;
        open -= 1;
        return index;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    gates[0]!.resolve();
    gates[2]!.resolve();
    gates[3]!.resolve();
    gates[4]!.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(mostOpen).toBe(2);
  });
});
