import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { HttpResponse, http } from "msw";
import { Webhook } from "standardwebhooks";
import { describe, expect, it, vi } from "vitest";
import type { DeliveryKey } from "../../src/db/deliveries";
import { GIVE_UP_AFTER_MS, PAUSE_AFTER_FAILURES } from "../../src/forwarding/deliver";
import { fanOut, MAX_TAKES_PER_RUN } from "../../src/forwarding/fan-out";
import worker from "../../src/index";
import { consumeClinicDeliveries } from "../../src/queue/clinic-deliveries-consumer";
import { QUEUES } from "../../src/queue/dispatch";
import { CRONS } from "../../src/scheduled/dispatch";
import { sweepForwarding } from "../../src/scheduled/forwarding-sweep";
import { purgeExpiredChanges } from "../../src/scheduled/retention";
import { adminFetch } from "../helpers/admin";
import { CLINIC_ID, makeEvent, OTHER_CLINIC_ID, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { countingDatabase, EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

const server = useMockNetwork();

interface Received {
  headers: Record<string, string>;
  body: string;
}

/** A clinic endpoint at `url` that answers each request with the next of `answers` (the last repeats). */
function endpoint(url: string, ...answers: (() => Response)[]): Received[] {
  const received: Received[] = [];
  server.use(
    http.post(url, async ({ request }) => {
      received.push({ headers: Object.fromEntries(request.headers), body: await request.text() });
      const answer = answers[Math.min(received.length - 1, answers.length - 1)];
      return answer ? answer() : HttpResponse.text("ok");
    }),
  );
  return received;
}

async function createDestination(settings: Record<string, unknown> = {}, id = uniqueId("dst")) {
  const url = `https://ehr-${id}.example/hooks`;
  const response = await adminFetch(`/destinations/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ clinic_id: CLINIC_ID, url, events: ["order.status_changed"], ...settings }),
  });
  expect(response.status).toBe(201);
  const { secret } = (await response.json()) as { secret: string };
  return { id, url, secret };
}

async function orderChange(orderId = uniqueId("ord"), type = "order:created") {
  await runBatch(EVENTS_QUEUE, [eventMessage(makeEvent(type, { data: { order_id: orderId } }))]);
  return orderId;
}

/** Captures what is sent to the clinic-deliveries queue while `run` runs. */
async function capturingDeliveries(run: () => Promise<unknown>) {
  const sent: { body: DeliveryKey; delaySeconds?: number }[] = [];
  const spy = vi.spyOn(env.DELIVERIES, "sendBatch").mockImplementation(async (messages) => {
    for (const message of messages)
      sent.push({ body: message.body as DeliveryKey, delaySeconds: message.delaySeconds });
    return undefined as never;
  });
  try {
    await run();
    return sent;
  } finally {
    spy.mockRestore();
  }
}

/**
 * The fan-out's jobs for destination `id` only (other tests' destinations fan out too, and share a
 * run's budget: a few runs reach every destination).
 */
async function fanOutJobs(id: string, now = new Date()): Promise<DeliveryKey[]> {
  for (let run = 0; run < 3; run++) {
    const sent = await capturingDeliveries(() => fanOut(env, now));
    const jobs = sent.map((message) => message.body).filter((job) => job.destination_id === id);
    if (jobs.length > 0) return jobs;
  }
  return [];
}

/** Runs the clinic-deliveries consumer over `jobs` at `nowMs`; answers the jobs it enqueued again. */
async function deliver(jobs: DeliveryKey[], nowMs = Date.now()) {
  return capturingDeliveries(() =>
    runBatch(
      QUEUES.deliveries,
      jobs.map((job) => ({ id: uniqueId("msg"), timestamp: new Date(nowMs), attempts: 1, body: job })),
      env,
      (batch, batchEnv) => consumeClinicDeliveries(batch, batchEnv, { now: () => nowMs }),
    ),
  );
}

async function deliveriesOf(id: string) {
  const response = await adminFetch(`/destinations/${id}/deliveries`);
  expect(response.status).toBe(200);
  return (await response.json()) as {
    deliveries: {
      change_id: string;
      status: string;
      error: string | null;
      next_attempt_at: string | null;
      attempts: { attempt: number; http_status: number | null; latency_ms: number; response_excerpt: string | null }[];
    }[];
    next_cursor: string;
  };
}

async function destination(id: string) {
  return (await (await adminFetch(`/destinations/${id}`)).json()) as {
    state: string;
    enabled: boolean;
    failure_streak: number;
    last_success_at: string | null;
    next_probe_at: string | null;
  };
}

describe("forwarding: each change delivered, signed, to each destination that asked for it", () => {
  it("delivers a signed change the standardwebhooks package verifies, with the change id as webhook-id", async () => {
    const { id, url, secret } = await createDestination();
    const received = endpoint(url);
    const orderId = await orderChange();
    const jobs = await fanOutJobs(id);
    expect(jobs).toHaveLength(1);
    await deliver(jobs);
    expect(received).toHaveLength(1);
    const [request] = received;
    if (!request) throw new Error("nothing received");
    const change = new Webhook(secret).verify(request.body, request.headers) as {
      id: string;
      type: string;
      entity: { id: string; status: string };
      data: Record<string, unknown>;
    };
    expect(change).toMatchObject({ type: "order.status_changed", entity: { id: orderId, status: "created" } });
    expect(request.headers["webhook-id"]).toBe(change.id);
    expect(change.data.facts).toBeUndefined(); // include_phi is off by default
    const list = await deliveriesOf(id);
    expect(list.deliveries).toMatchObject([{ change_id: change.id, status: "delivered" }]);
    expect(list.deliveries[0]?.attempts).toMatchObject([{ attempt: 1, http_status: 200, response_excerpt: "ok" }]);
    expect((await destination(id)).last_success_at).not.toBeNull();
  });

  it("a failure retries with backoff under the same webhook-id; 429 waits its Retry-After", async () => {
    const { id, url } = await createDestination();
    const received = endpoint(
      url,
      () => HttpResponse.text("down", { status: 500 }),
      () => new HttpResponse(null, { status: 429, headers: { "retry-after": "600" } }),
      () => HttpResponse.text("ok"),
    );
    await orderChange();
    const jobs = await fanOutJobs(id);
    const now = Date.now();
    const first = await deliver(jobs, now);
    expect(first).toHaveLength(1);
    expect(first[0]?.delaySeconds).toBeGreaterThanOrEqual(24); // 30 s, at least 80 %
    const second = await deliver(jobs, now + 60_000);
    expect(second[0]?.delaySeconds).toBeGreaterThanOrEqual(600);
    const list = await deliveriesOf(id);
    expect(list.deliveries[0]?.next_attempt_at).toBe(
      new Date(now + 60_000 + (second[0]?.delaySeconds ?? 0) * 1000).toISOString(),
    );
    await deliver(jobs, now + 11 * 60_000);
    expect(received.map((request) => request.headers["webhook-id"])).toEqual(
      Array(3).fill(received[0]?.headers["webhook-id"]),
    );
    const after = await deliveriesOf(id);
    expect(after.deliveries[0]?.status).toBe("delivered");
    expect(after.deliveries[0]?.attempts.map((attempt) => attempt.http_status)).toEqual([500, 429, 200]);
  });

  it("410 fails the delivery, disables the destination and opens an alert; enabling it resolves the alert", async () => {
    const { id, url } = await createDestination();
    endpoint(url, () => new HttpResponse(null, { status: 410 }));
    await orderChange();
    await deliver(await fanOutJobs(id));
    expect((await deliveriesOf(id)).deliveries[0]).toMatchObject({ status: "failed" });
    expect(await destination(id)).toMatchObject({ enabled: false, state: "disabled" });
    const alert = await env.DB.prepare(
      `SELECT state, clinic_id FROM alerts WHERE rule = 'destination_gone' AND target_id = ?1`,
    )
      .bind(id)
      .first();
    expect(alert).toEqual({ state: "open", clinic_id: CLINIC_ID });
    // A disabled destination gets no more rows.
    await orderChange();
    expect(await fanOutJobs(id)).toEqual([]);

    const enable = await adminFetch(`/destinations/${id}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ clinic_id: CLINIC_ID, url, events: ["order.status_changed"], enabled: true }),
    });
    expect(enable.status).toBe(200);
    expect(await destination(id)).toMatchObject({ enabled: true, state: "active", failure_streak: 0 });
    const resolved = await env.DB.prepare(`SELECT state FROM alerts WHERE rule = 'destination_gone' AND target_id = ?1`)
      .bind(id)
      .first();
    expect(resolved).toEqual({ state: "resolved" });
  });

  it(`after ${PAUSE_AFTER_FAILURES} failures in a row a destination pauses and is probed once per step; others keep going`, async () => {
    const broken = await createDestination();
    const healthy = await createDestination();
    let up = false;
    const brokenHits = endpoint(broken.url, () =>
      up ? HttpResponse.text("ok") : HttpResponse.text("no", { status: 503 }),
    );
    const healthyHits = endpoint(healthy.url);
    for (let i = 0; i < PAUSE_AFTER_FAILURES + 2; i++) await orderChange();
    const now = Date.now();
    const brokenJobs = await fanOutJobs(broken.id, new Date(now));
    const healthyJobs = await fanOutJobs(healthy.id, new Date(now));
    expect(brokenJobs).toHaveLength(PAUSE_AFTER_FAILURES + 2);

    // The first 10 fail (one each); the destination is paused; its 2 others wait without a try.
    await deliver(brokenJobs.slice(0, PAUSE_AFTER_FAILURES), now);
    const paused = await destination(broken.id);
    expect(paused.state).toBe("paused");
    expect(paused.next_probe_at).not.toBeNull();
    const probeAt = Date.parse(paused.next_probe_at ?? "");
    expect(probeAt).toBeGreaterThan(now);
    const hitsBefore = brokenHits.length;
    await deliver([...brokenJobs.slice(PAUSE_AFTER_FAILURES), ...healthyJobs], now + 1_000);
    expect(brokenHits.length).toBe(hitsBefore); // paused: no try
    expect(healthyHits).toHaveLength(healthyJobs.length); // the other destination is not held back

    // At the probe time one delivery goes; it succeeds and closes the circuit.
    up = true;
    await deliver(brokenJobs.slice(PAUSE_AFTER_FAILURES), probeAt + 1_000);
    expect(brokenHits.length).toBe(hitsBefore + 1);
    expect(await destination(broken.id)).toMatchObject({ state: "active", failure_streak: 0 });
    await deliver(brokenJobs, probeAt + 2_000);
    const statuses = (await deliveriesOf(broken.id)).deliveries.map((delivery) => delivery.status);
    expect(statuses).toEqual(Array(PAUSE_AFTER_FAILURES + 2).fill("delivered"));
  });

  it("a delivery still failing after the retry window fails for good; replay sends it again", async () => {
    const { id, url } = await createDestination();
    let up = false;
    endpoint(url, () => (up ? HttpResponse.text("ok") : HttpResponse.text("no", { status: 500 })));
    await orderChange();
    const jobs = await fanOutJobs(id);
    const now = Date.now();
    await deliver(jobs, now);
    expect((await deliveriesOf(id)).deliveries[0]?.status).toBe("pending");
    await deliver(jobs, now + GIVE_UP_AFTER_MS + 1_000);
    expect((await deliveriesOf(id)).deliveries[0]).toMatchObject({
      status: "failed",
      error: "retries exhausted (http 500)",
    });

    up = true;
    const replayed = await capturingDeliveries(async () => {
      const response = await adminFetch("/deliveries/replay", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ destination_id: id, status: "failed" }),
      });
      expect(response.status).toBe(202);
      expect(await response.json()).toEqual({ replayed: 1, enqueued: 1 });
    });
    expect(replayed.map((message) => message.body)).toEqual(jobs);
    await deliver(jobs);
    expect((await deliveriesOf(id)).deliveries[0]?.status).toBe("delivered");
  });

  it("nothing is lost across a 72 h outage: waiting behind a paused destination is neither a try nor part of the retry window", async () => {
    const { id, url } = await createDestination();
    let up = false;
    const hits = endpoint(url, () => (up ? HttpResponse.text("ok") : HttpResponse.text("down", { status: 503 })));
    for (let i = 0; i < PAUSE_AFTER_FAILURES + 1; i++) await orderChange();
    const t0 = Date.now();
    const jobs = await fanOutJobs(id, new Date(t0));
    const waiting = jobs.at(-1) as DeliveryKey;
    await deliver(jobs.slice(0, PAUSE_AFTER_FAILURES), t0);
    expect((await destination(id)).state).toBe("paused");
    // The outage lasts 72 h: the destination's next probe is then (as its probes would have stepped).
    const back = t0 + 72 * 3_600_000;
    await env.DB.prepare(`UPDATE destinations SET probe_at = ?2 WHERE destination_id = ?1`)
      .bind(id, new Date(back).toISOString())
      .run();
    // The waiting row is claimed many times meanwhile (lost jobs re-sent by the sweep): never tried.
    for (let hour = 1; hour < 72; hour += 12) await deliver([waiting], t0 + hour * 3_600_000);
    const row = () =>
      env.DB.prepare(
        `SELECT attempts, paused_ms, status FROM clinic_deliveries WHERE change_id = ?1 AND destination_id = ?2`,
      )
        .bind(waiting.change_id, id)
        .first<{ attempts: number; paused_ms: number; status: string }>();
    expect(hits).toHaveLength(PAUSE_AFTER_FAILURES);
    expect((await row())?.attempts).toBe(0);
    expect((await row())?.paused_ms).toBeGreaterThanOrEqual(71 * 3_600_000);

    // Four days after it was created, the endpoint refuses the probe once: the row retries (its
    // 71 h of waiting are not part of its window), soon (its backoff is that of its first try).
    const again = await deliver([waiting], t0 + GIVE_UP_AFTER_MS + 60_000);
    expect(hits).toHaveLength(PAUSE_AFTER_FAILURES + 1);
    expect((await row())?.status).toBe("pending");
    expect(again.find((message) => message.body.change_id === waiting.change_id)?.delaySeconds).toBeLessThanOrEqual(60);
    // The endpoint is back: delivered.
    up = true;
    await env.DB.prepare(`UPDATE destinations SET probe_at = NULL WHERE destination_id = ?1`).bind(id).run();
    await deliver([waiting], t0 + GIVE_UP_AFTER_MS + 120_000);
    expect((await row())?.status).toBe("delivered");
  });

  it("a destination down for good still lets its rows fail: the wait left out is at most the retry window", async () => {
    const { id, url } = await createDestination();
    endpoint(url, () => HttpResponse.text("down", { status: 503 }));
    await orderChange();
    const jobs = await fanOutJobs(id);
    const t0 = Date.now();
    // Waited behind the pause far longer than the window (a destination that never came back).
    await env.DB.prepare(`UPDATE clinic_deliveries SET paused_ms = ?2 WHERE destination_id = ?1`)
      .bind(id, 10 * GIVE_UP_AFTER_MS)
      .run();
    await deliver(jobs, t0 + GIVE_UP_AFTER_MS + 60_000);
    expect((await deliveriesOf(id)).deliveries[0]?.status).toBe("pending");
    await deliver(jobs, t0 + 2 * GIVE_UP_AFTER_MS + 60_000);
    expect((await deliveriesOf(id)).deliveries[0]).toMatchObject({
      status: "failed",
      error: "retries exhausted (http 503)",
    });
  });

  it("with include_phi the entity's facts ride along; a destination sees only its clinic's chosen types", async () => {
    const { id, url, secret } = await createDestination({ include_phi: true });
    const received = endpoint(url);
    const orderId = await orderChange(uniqueId("ord"), "order:shipped");
    await deliver(await fanOutJobs(id));
    const change = new Webhook(secret).verify(received[0]?.body ?? "", received[0]?.headers ?? {}) as {
      data: { facts: Record<string, unknown> };
    };
    expect(change.data.facts).toMatchObject({ order_id: orderId, status: "shipped" });

    // A medication request's change is not a type this destination asked for.
    await runBatch(EVENTS_QUEUE, [
      eventMessage(makeEvent("medication_request:approved", { data: { medication_request_id: uniqueId("mr") } })),
    ]);
    expect(await fanOutJobs(id)).toEqual([]);
  });

  it("a destination hears of changes from its creation on", async () => {
    await orderChange();
    const { id } = await createDestination();
    expect(await fanOutJobs(id)).toEqual([]);
  });
});

describe("queues of the staging and production environments", () => {
  it("an events batch from novamed-events-staging is processed like one from novamed-events", async () => {
    const event = makeEvent("order:created", { data: { order_id: uniqueId("ord") } });
    await runBatch("novamed-events-staging", [eventMessage(event)]);
    const row = await env.DB.prepare(`SELECT status FROM events WHERE event_id = ?1`).bind(event.event_id).first();
    expect(row).toEqual({ status: "processed" });
  });
});

describe("fan-out runs, the sweep and the dead-letter queue", () => {
  it("the consumer fans out new changes after its deliveries; the minute's cron fans out too", async () => {
    const { id, url } = await createDestination();
    endpoint(url);
    await orderChange();
    const first = await fanOutJobs(id);
    await orderChange();
    // Delivering the first change also fans out the second.
    const sent = await deliver(first);
    expect(sent.filter((message) => message.body.destination_id === id)).toHaveLength(1);
    await orderChange();
    const cron = await capturingDeliveries(() =>
      worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron: CRONS.forwarding }), env),
    );
    expect(cron.filter((message) => message.body.destination_id === id)).toHaveLength(1);
  });

  it("the 5-minute sweep fans out and re-sends a lost job; a dead-lettered job fails its row", async () => {
    const { id } = await createDestination();
    await orderChange();
    const now = new Date();
    const fannedOut = await capturingDeliveries(() => sweepForwarding(env, now));
    const job = fannedOut.map((message) => message.body).find((body) => body.destination_id === id);
    expect(job).toBeDefined();
    // The job is lost: 5 minutes later the sweep sends it again.
    const swept = await capturingDeliveries(() => sweepForwarding(env, new Date(now.getTime() + 6 * 60_000)));
    expect(swept.map((message) => message.body)).toContainEqual(job);

    await runBatch(QUEUES.deliveriesDeadLetter, [
      { id: uniqueId("msg"), timestamp: new Date(), attempts: 1, body: job },
    ]);
    expect((await deliveriesOf(id)).deliveries[0]).toMatchObject({ status: "failed", error: "retries exhausted" });
  });
});

describe("the fan-out stays inside one invocation's limits", () => {
  it(`shares ${MAX_TAKES_PER_RUN} takes a run among every destination behind, and the next run goes on`, async () => {
    await orderChange();
    const ids = Array.from({ length: MAX_TAKES_PER_RUN + 5 }, () => uniqueId("dst"));
    // Many destinations, each one change behind (written directly: the admin PUT would start them at the newest).
    await env.DB.batch(
      ids.map((id) =>
        env.DB.prepare(
          `INSERT INTO destinations (destination_id, clinic_id, url, events, secret, fanout_cursor, created_at, updated_at)
           VALUES (?1, ?2, 'https://ehr.example/hook', '["*"]', 'whsec_AAAA', (SELECT MAX(sequence) - 1 FROM changes), ?3, ?3)`,
        ).bind(id, CLINIC_ID, new Date().toISOString()),
      ),
    );
    const counting = countingDatabase(env.DB);
    const first = await capturingDeliveries(() => fanOut({ ...env, DB: counting.db }, new Date()));
    // One read of the state (2 statements), then 2 statements a take.
    expect(counting.queries()).toBeLessThanOrEqual(2 + 2 * MAX_TAKES_PER_RUN);
    // Every take serves one destination: the run covers at most the budget (other tests' destinations share it).
    const served = new Set(first.map((message) => message.body.destination_id));
    expect(served.size).toBe(MAX_TAKES_PER_RUN);
    expect(ids.filter((id) => served.has(id)).length).toBeLessThan(ids.length);
    for (let run = 0; run < 2; run++)
      for (const message of await capturingDeliveries(() => fanOut(env, new Date())))
        served.add(message.body.destination_id);
    expect(ids.every((id) => served.has(id))).toBe(true);
  });
});

describe("a destination hears of its own clinic only, and keeps nothing of another", () => {
  /** A change of clinic B, as its trigger would write it. */
  async function changeOfOtherClinic(): Promise<string> {
    const changeId = `chg_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
    await env.DB.prepare(
      `INSERT INTO changes (change_id, type, occurred_at, clinic_id, entity_kind, entity_id, status)
       VALUES (?1, 'order.status_changed', ?2, ?3, 'order', ?4, 'created')`,
    )
      .bind(changeId, new Date().toISOString(), OTHER_CLINIC_ID, uniqueId("ord"))
      .run();
    return changeId;
  }

  it("another clinic's change is never fanned out to it, nor delivered if a row pairs them", async () => {
    const { id, url } = await createDestination({ events: ["*"] });
    const received = endpoint(url);
    const otherChange = await changeOfOtherClinic();
    expect(await fanOutJobs(id)).toEqual([]);
    // A row pairing them (as a reused id once could) is refused, and nothing is sent.
    await env.DB.prepare(
      `INSERT INTO clinic_deliveries (delivery_id, change_id, destination_id, change_sequence, status, created_at, updated_at)
       SELECT 'dlv_paired', change_id, ?2, sequence, 'pending', ?3, ?3 FROM changes WHERE change_id = ?1`,
    )
      .bind(otherChange, id, new Date().toISOString())
      .run();
    await deliver([{ change_id: otherChange, destination_id: id }]);
    expect(received).toEqual([]);
    expect((await deliveriesOf(id)).deliveries).toMatchObject([
      { change_id: otherChange, status: "failed", error: "change of another clinic" },
    ]);
  });

  it("deleting a destination deletes its deliveries and attempts, so a reused id starts empty", async () => {
    const { id, url } = await createDestination();
    endpoint(url);
    await orderChange();
    await deliver(await fanOutJobs(id));
    const count = async (sql: string) => (await env.DB.prepare(sql).bind(id).first<{ n: number }>())?.n;
    const deliveries = `SELECT COUNT(*) AS n FROM clinic_deliveries WHERE destination_id = ?1`;
    const attempts = `SELECT COUNT(*) AS n FROM clinic_delivery_attempts
      WHERE delivery_id IN (SELECT delivery_id FROM clinic_deliveries WHERE destination_id = ?1)`;
    expect([await count(deliveries), await count(attempts)]).toEqual([1, 1]);
    const attemptRows = `SELECT COUNT(*) AS n FROM clinic_delivery_attempts WHERE delivery_id NOT IN (SELECT delivery_id FROM clinic_deliveries) AND ?1 = ?1`;
    expect((await adminFetch(`/destinations/${id}`, { method: "DELETE" })).status).toBe(204);
    expect([await count(deliveries), await count(attemptRows)]).toEqual([0, 0]);
    await createDestination({}, id);
    expect((await deliveriesOf(id)).deliveries).toEqual([]);
  });

  it("the daily retention deletes the deliveries of changes the feed no longer holds", async () => {
    const { id, url } = await createDestination();
    endpoint(url);
    await orderChange();
    await orderChange();
    await deliver(await fanOutJobs(id));
    expect((await deliveriesOf(id)).deliveries).toHaveLength(2);
    const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
    await env.DB.prepare(`UPDATE changes SET occurred_at = ?1`).bind(old).run();
    // Other tests' destinations have heard of everything (none is behind, none has a delivery pending).
    await env.DB.batch([
      env.DB.prepare(`UPDATE destinations SET enabled = 0 WHERE destination_id <> ?1`).bind(id),
      env.DB.prepare(`UPDATE clinic_deliveries SET status = 'failed' WHERE destination_id <> ?1`).bind(id),
    ]);
    await purgeExpiredChanges(env, new Date());
    // The newest change stays (its sequence is never reused), and so does its delivery.
    expect((await deliveriesOf(id)).deliveries).toHaveLength(1);
  });

  it("the daily retention keeps an old change a destination has not yet heard of", async () => {
    const { id, url } = await createDestination();
    endpoint(url, () => HttpResponse.text("down", { status: 503 }));
    await orderChange();
    const jobs = await fanOutJobs(id);
    await deliver(jobs);
    await orderChange();
    await orderChange();
    const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
    await env.DB.prepare(`UPDATE changes SET occurred_at = ?1`).bind(old).run();
    await purgeExpiredChanges(env, new Date());
    // Its delivery is pending (a retry reads the change's body), and the later two are not fanned out yet.
    const kept = await env.DB.prepare(`SELECT COUNT(*) AS n FROM changes WHERE change_id = ?1`)
      .bind(jobs[0]?.change_id)
      .first<{ n: number }>();
    expect(kept?.n).toBe(1);
    expect((await deliveriesOf(id)).deliveries.map((delivery) => delivery.status)).toEqual(["pending"]);
    const later = await fanOutJobs(id);
    expect(later).toHaveLength(2);
  });
});
