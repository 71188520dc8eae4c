import { describe, expect, it } from "vitest";
import { adminFetch } from "../helpers/admin";
import { makeEvent, uniqueId } from "../helpers/events";
import { CANARY, captureConsole, leakedCanaries } from "../helpers/phi-canary";
import { EVENTS_QUEUE, eventMessage, runBatch, runDeadLetter } from "../helpers/queue";

describe("PHI canary: processing", () => {
  it("no canary value reaches the console from the consumers, or an admin error or event view", async () => {
    const capture = captureConsole();
    const data = {
      order_id: uniqueId("ord"),
      medication_request_id: uniqueId("mr"),
      refill_id: uniqueId("rf"),
      patient_name: CANARY.name,
      patient_phone: CANARY.phone,
      patient_email: CANARY.email,
      medication_name: CANARY.medication,
      shipping_address: { line1: CANARY.address, city: CANARY.city, state: "CA", zip: "94102" },
    };
    const valid = ["order:shipped", "medication_request:approved", "refill:denied"].map((type) =>
      makeEvent(type, { data }),
    );
    const invalid = makeEvent("medication_request:approved", {
      data: { ...data, quantity: CANARY.medication, patient_id: { name: CANARY.name } },
    });
    // Odd optional fields are dropped with warnings (paths only); the event still applies.
    const odd = makeEvent("order:shipped", {
      data: {
        ...data,
        order_id: uniqueId("ord"),
        carrier: { name: CANARY.name },
        shipping_address: { zip: CANARY.address },
      },
    });
    const unknown = makeEvent("patient:updated", { data });
    const dead = makeEvent("order:cancelled", { data });
    await runBatch(
      EVENTS_QUEUE,
      [...valid, invalid, unknown, odd].map((event) => eventMessage(event)),
    );
    await runBatch(EVENTS_QUEUE, [eventMessage({ ...valid[0]!, data: { ...data, tracking_number: CANARY.phone } })]);
    await runDeadLetter(dead);

    const views: string[] = [];
    for (const event of [...valid, invalid, unknown, dead, odd]) {
      views.push(await (await adminFetch(`/events/${event.event_id}`)).text());
    }
    views.push(await (await adminFetch(`/events?status=invalid&limit=100`)).text());
    capture.stop();

    expect(capture.output()).toContain(`"message":"event batch"`);
    expect(leakedCanaries(capture.output())).toEqual([]);
    expect(leakedCanaries(views.join("\n"))).toEqual([]);
    expect(views[3]).toContain("data.patient_id");
    expect(views[6]).toContain("data.shipping_address.zip");
    expect(views[6]).toContain("data.carrier");
  });
});
