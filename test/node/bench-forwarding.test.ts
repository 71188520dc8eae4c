import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import {
  account,
  delayFor,
  ENDPOINT_DELAY_MS,
  type Endpoint,
  failsAt,
  type Seen,
  startEndpoint,
} from "../../bench/forwarding-endpoint.ts";
import { PATIENT_IDS, planEndingAt } from "../../bench/pipeline.ts";

/** A fixed instant: the endpoint's clock in these tests (no test reads the wall clock). */
const NOW = Date.parse("2026-06-01T12:00:00.000Z");
const SECRET = `whsec_${Buffer.from("bench-forwarding-test-secret-32b").toString("base64")}`;
const ids = Array.from({ length: 5000 }, (_, index) => `chg_${index.toString(16).padStart(24, "0")}`);

describe("bench: the forwarding endpoint's choices (bench/forwarding-endpoint.ts)", () => {
  it("refuses about the asked share of tries, the same ones for the same seed whatever the order", () => {
    const refused = ids.filter((id) => failsAt(7, id, 1, 0.1));
    expect(refused.length / ids.length).toBeGreaterThan(0.08);
    expect(refused.length / ids.length).toBeLessThan(0.12);
    expect([...ids].reverse().filter((id) => failsAt(7, id, 1, 0.1))).toEqual([...refused].reverse());
    // Another seed, or the next try of the same change, is another draw.
    expect(ids.filter((id) => failsAt(8, id, 1, 0.1))).not.toEqual(refused);
    expect(refused.filter((id) => failsAt(7, id, 2, 0.1)).length).toBeLessThan(refused.length / 4);
    expect(ids.some((id) => failsAt(7, id, 1, 0))).toBe(false);
    expect(ids.every((id) => failsAt(7, id, 1, 1))).toBe(true);
  });

  it("waits 50–200 ms per answer, spread over the range, the same for the same try", () => {
    const delays = ids.map((id) => delayFor(3, id, 1));
    expect(Math.min(...delays)).toBe(ENDPOINT_DELAY_MS.min);
    expect(Math.max(...delays)).toBe(ENDPOINT_DELAY_MS.max);
    expect(delays.every(Number.isInteger)).toBe(true);
    expect(ids.map((id) => delayFor(3, id, 1))).toEqual(delays);
  });
});

describe("bench: the forwarding pass's accounting (account)", () => {
  const seen = (ok: number, requests = ok): Seen => ({ requests, ok, firstOkAt: ok > 0 ? NOW : null });

  it("counts a change never accepted as lost, one accepted twice as a duplicate, and ids outside the feed", () => {
    const result = account(
      ["a", "b", "c", "d", "a"],
      new Map([
        ["a", seen(1)],
        ["b", seen(3, 4)],
        ["c", seen(0, 5)],
        ["e", seen(1)],
      ]),
    );
    expect(result).toEqual({
      changes: 4,
      delivered: 2,
      lost: 2,
      duplicates_delivered: 1,
      extra_deliveries: 2,
      unknown_ids: 1,
    });
  });

  it("is all delivered when every change of the feed was accepted", () => {
    expect(
      account(
        ["a", "b"],
        new Map([
          ["a", seen(1)],
          ["b", seen(1, 2)],
        ]),
      ),
    ).toMatchObject({ lost: 0, delivered: 2 });
    expect(account([], new Map())).toMatchObject({ changes: 0, lost: 0 });
  });
});

describe("bench: the forwarding endpoint (startEndpoint)", () => {
  let endpoint: Endpoint | null = null;
  afterEach(async () => {
    await endpoint?.stop();
    endpoint = null;
  });

  /** A delivery signed by the maintained package, as the receiver signs it. */
  const deliver = (id: string, { at = NOW, secret = SECRET, body = `{"id":"${id}"}` } = {}) =>
    fetch(endpoint!.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(at / 1000)),
        "webhook-signature": new Webhook(secret).sign(id, new Date(at), body),
      },
      body,
    }).then((response) => response.status);

  it("accepts a verified delivery and records its webhook-id; refuses the seed's share with a 500", async () => {
    const seed = 11;
    endpoint = await startEndpoint({ seed, failureRate: 0.5, clock: () => NOW, sleep: async () => {} });
    endpoint.setSecret(SECRET);
    const id = ids.find((candidate) => failsAt(seed, candidate, 1, 0.5) && !failsAt(seed, candidate, 2, 0.5))!;
    expect(await deliver(id)).toBe(500);
    expect(await deliver(id)).toBe(204);
    expect(endpoint.seen.get(id)).toEqual({ requests: 2, ok: 1, firstOkAt: NOW });
    expect(endpoint.figures()).toMatchObject({
      requests: 2,
      answered_2xx: 1,
      refused_injected: 1,
      signature_failures: 0,
    });
  });

  it("refuses a wrong signature and a timestamp outside the package's 5 minutes of its clock, recording neither", async () => {
    endpoint = await startEndpoint({ seed: 1, failureRate: 0, clock: () => NOW, sleep: async () => {} });
    endpoint.setSecret(SECRET);
    const other = `whsec_${Buffer.from("another-secret-of-thirty-two-byt").toString("base64")}`;
    expect(await deliver("chg_forged", { secret: other })).toBe(401);
    expect(await deliver("chg_stale", { at: NOW - 6 * 60_000 })).toBe(401);
    expect(await deliver("chg_fine", { at: NOW + 4 * 60_000 })).toBe(204);
    expect(endpoint.figures()).toMatchObject({ signature_failures: 2, answered_2xx: 1 });
    expect([...endpoint.seen.keys()]).toEqual(["chg_fine"]);
  });

  it("checks the timestamp against a simulated clock 72 h ahead, and answers 503 while down", async () => {
    const later = NOW + 72 * 3_600_000;
    let down = true;
    endpoint = await startEndpoint({
      seed: 1,
      failureRate: 0,
      down: () => down,
      clock: () => later,
      sleep: async () => {},
    });
    endpoint.setSecret(SECRET);
    expect(await deliver("chg_x", { at: later })).toBe(503);
    down = false;
    expect(await deliver("chg_x", { at: later })).toBe(204);
    expect(await deliver("chg_y", { at: NOW })).toBe(401);
    expect(endpoint.figures()).toMatchObject({ answered_503_down: 1, answered_2xx: 1, signature_failures: 1 });
    expect(endpoint.seen.get("chg_x")).toEqual({ requests: 1, ok: 1, firstOkAt: later });
  });
});

describe("bench: the forwarding streams end now (planEndingAt)", () => {
  it("places the seeded timeline so its last event is at the given time, the stream otherwise unchanged", () => {
    const options = {
      count: 200,
      duplicateRate: 0.2,
      outOfOrderRate: 0.2,
      seed: "forwarding-7",
      clinicId: "550e8400-e29b-41d4-a716-446655440000",
      startTime: 0,
      patientIds: PATIENT_IDS,
    };
    const plan = planEndingAt(options, NOW);
    const times = plan.sends.map((send) => Date.parse(send.envelope.timestamp));
    expect(Math.max(...times)).toBe(NOW);
    expect(Math.min(...times)).toBeLessThan(NOW);
    expect(plan.sends.map((send) => send.envelope.event_id)).toEqual(
      planEndingAt(options, NOW - 86_400_000).sends.map((send) => send.envelope.event_id),
    );
  });
});
