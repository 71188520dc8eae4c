import { describe, expect, it } from "vitest";
import { consoleFetch, signIn } from "../helpers/console";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

/** The page's text of one element by id, tags removed and entities decoded as a reader sees them. */
function textOf(html: string, id: string): string {
  const start = html.indexOf(`id="${id}"`);
  if (start < 0) return "";
  const end = html.indexOf("</li>", start);
  return html
    .slice(html.indexOf(">", start) + 1, end)
    .replaceAll(/<[^>]+>/g, "")
    .replaceAll("&#39;", "'");
}

async function eventPage(eventId: string): Promise<string> {
  const { cookie } = await signIn();
  const response = await consoleFetch(`/console/events/${eventId}`, { cookie });
  expect(response.status).toBe(200);
  return response.text();
}

const at = (minutes: number) => new Date(Date.UTC(2031, 4, 10, 12, minutes)).toISOString();

describe("console event page: what the event did to its entity", () => {
  it("names the current facts an event supplied when it set the status", async () => {
    const orderId = uniqueId("ord");
    const shipped = makeEvent("order:shipped", { timestamp: at(10), data: { order_id: orderId } });
    await runBatch(EVENTS_QUEUE, [eventMessage(shipped)]);
    const effect = textOf(await eventPage(shipped.event_id), "entity-effect");
    expect(effect).toContain("Set the order's current status (shipped).");
    expect(effect).toMatch(/Current facts it supplied: .*carrier.*tracking number/);
  });

  it("says why a stale event did not move the status: a later stage, a later event of the same stage, the tie rule", async () => {
    const orderId = uniqueId("ord");
    const shipped = makeEvent("order:shipped", { timestamp: at(10), data: { order_id: orderId } });
    const lateProcessing = makeEvent("order:processing", { timestamp: at(5), data: { order_id: orderId } });
    await runBatch(EVENTS_QUEUE, [eventMessage(shipped)]);
    await runBatch(EVENTS_QUEUE, [eventMessage(lateProcessing)]);
    expect(textOf(await eventPage(lateProcessing.event_id), "entity-effect")).toContain(
      `Stale: did not change the order's status (shipped, set by ${shipped.event_id}), because shipped comes after processing.`,
    );

    const refillId = uniqueId("ref");
    const earlier = makeEvent("refill:approved", { timestamp: at(1), data: { refill_id: refillId } });
    const later = makeEvent("refill:denied", { timestamp: at(2), data: { refill_id: refillId } });
    await runBatch(EVENTS_QUEUE, [eventMessage(later)]);
    await runBatch(EVENTS_QUEUE, [eventMessage(earlier)]);
    expect(textOf(await eventPage(earlier.event_id), "entity-effect")).toContain(
      "because that event happened later at the same stage.",
    );

    const tiedId = uniqueId("ref");
    // The same instant written with another offset: the tie rule decides, and denied wins.
    const approved = makeEvent("refill:approved", { timestamp: "2031-05-10T12:00:00Z", data: { refill_id: tiedId } });
    const denied = makeEvent("refill:denied", { timestamp: "2031-05-10T14:00:00+02:00", data: { refill_id: tiedId } });
    await runBatch(EVENTS_QUEUE, [eventMessage(denied)]);
    await runBatch(EVENTS_QUEUE, [eventMessage(approved)]);
    expect(textOf(await eventPage(approved.event_id), "entity-effect")).toContain(
      "both happened at the same instant and the tie rule chose the other",
    );
    expect(textOf(await eventPage(denied.event_id), "entity-effect")).toContain(
      "Set the refill's current status (denied).",
    );
  });

  it("says an invalid event changed nothing", async () => {
    const invalid = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: 42 } });
    await runBatch(EVENTS_QUEUE, [eventMessage(invalid)]);
    expect(textOf(await eventPage(invalid.event_id), "entity-effect")).toBe(
      "Not applied: the event ended invalid, so it changed no order.",
    );
  });
});

describe("console event page: warnings", () => {
  it("lists the optional fields dropped or coerced, by path and message", async () => {
    const odd = makeEvent("medication_request:approved", {
      data: { medication_request_id: uniqueId("mr"), refills: -2 },
    });
    await runBatch(EVENTS_QUEUE, [eventMessage(odd)]);
    const html = await eventPage(odd.event_id);
    expect(html).toContain("Applied with 1 warning (optional fields dropped or coerced):");
    expect(html).toMatch(
      /<ul id="warnings" class="warnings"><li><code>data\.refills<\/code> must not be negative<\/li>/,
    );

    const clean = makeEvent("medication_request:approved", { data: { medication_request_id: uniqueId("mr") } });
    await runBatch(EVENTS_QUEUE, [eventMessage(clean)]);
    expect(await eventPage(clean.event_id)).not.toContain('id="warnings"');
  });
});

describe("console entity pages", () => {
  it("never print the fact times bookkeeping", async () => {
    const orderId = uniqueId("ord");
    const shipped = makeEvent("order:shipped", { data: { order_id: orderId } });
    await runBatch(EVENTS_QUEUE, [eventMessage(shipped)]);
    const { cookie } = await signIn();
    const html = await (await consoleFetch(`/console/orders/${orderId}`, { cookie })).text();
    expect(html).toContain("tracking number");
    expect(html).not.toMatch(/fact.times/);
    expect(html).not.toContain(`Z ${shipped.event_id}`);
  });
});
