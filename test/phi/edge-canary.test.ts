import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { makeEvent, postWebhook } from "../helpers/events";
import { CANARY, captureConsole, leakedCanaries } from "../helpers/phi-canary";

/** An event whose data carries every canary value in the places NovaMed puts patient data. */
function canaryEvent(overrides: Record<string, unknown> = {}) {
  return {
    ...makeEvent("order:shipped", {
      data: {
        patient_name: CANARY.name,
        patient_phone: CANARY.phone,
        patient_email: CANARY.email,
        medication_name: CANARY.medication,
        shipping_address: { line1: CANARY.address, city: CANARY.city, state: "CA", zip: "94102" },
      },
    }),
    ...overrides,
  };
}

describe("PHI canary: the edge", () => {
  it("no canary value reaches console output or a response body on any edge path", async () => {
    const capture = captureConsole();
    const bodies: string[] = [];
    const record = async (response: Promise<Response>) => {
      const settled = await response;
      bodies.push(await settled.text(), JSON.stringify([...settled.headers]));
      return settled.status;
    };

    const statuses = [
      await record(postWebhook(canaryEvent())),
      await record(postWebhook(canaryEvent(), { headers: { "x-api-key": CANARY.name } })),
      await record(postWebhook(canaryEvent({ clinic_id: "11111111-2222-4333-8444-555555555555" }))),
      await record(postWebhook(canaryEvent(), { headers: { "content-type": "text/plain" } })),
      await record(postWebhook(undefined, { raw: `{"name":"${CANARY.name}", ${CANARY.medication}` })),
      await record(
        postWebhook(canaryEvent({ timestamp: CANARY.phone, event_type: CANARY.email, clinic_id: CANARY.address })),
      ),
      await record(postWebhook(canaryEvent({ event_id: CANARY.medication.repeat(20) }))),
      await record(postWebhook(canaryEvent({ data: [CANARY.name] }))),
      await record(postWebhook(undefined, { raw: JSON.stringify(canaryEvent({ pad: CANARY.address.repeat(3000) })) })),
    ];
    vi.spyOn(env.EVENTS, "send").mockRejectedValueOnce(new Error(`queue refused ${CANARY.name}`));
    statuses.push(await record(postWebhook(canaryEvent())));
    capture.stop();

    expect(statuses).toEqual([200, 401, 403, 415, 400, 400, 400, 400, 413, 503]);
    expect(leakedCanaries(capture.output())).toEqual([]);
    expect(leakedCanaries(bodies.join("\n"))).toEqual([]);
    // The capture saw the request log lines, so an empty result means nothing leaked, not nothing logged.
    expect(capture.output()).toContain(`"message":"request"`);
  });
});
