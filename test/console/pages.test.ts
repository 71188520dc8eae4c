import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it, vi } from "vitest";
import { createConsole } from "../../src/console/app";
import { recordRejection } from "../../src/db/rejections";
import { adminJson } from "../helpers/admin";
import { consoleFetch, signIn } from "../helpers/console";
import { CLINIC_ID, type EnvelopeLike, makeEvent, OTHER_CLINIC_ID, uniqueId } from "../helpers/events";
import { countingDatabase, EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";
import { WAIT } from "../helpers/wait";

const NOW = new Date("2031-05-10T15:30:00.000Z");
const MINUTE = 60_000;

/** A queue message whose edge received it at `receivedAt`. */
function receivedAt(envelope: EnvelopeLike, at: Date) {
  const message = eventMessage(envelope);
  (message.body as { received_at: string }).received_at = at.toISOString();
  return message;
}

/** The console on the fixed clock, over a round-trip-counting database. */
function consoleAtNow() {
  const counting = countingDatabase(env.DB);
  const app = new Hono().route("/console", createConsole({ now: () => NOW }));
  // Two clinics, so the overview shows one never heard from.
  const workerEnv = { ...env, DB: counting.db, NOVAMED_CLINIC_IDS: `${CLINIC_ID},${OTHER_CLINIC_ID}` };
  return { fetcher: (request: Request) => Promise.resolve(app.fetch(request, workerEnv)), counting };
}

function cellText(html: string, tableId: string, status: string): string[] {
  const table = html.slice(html.indexOf(`id="${tableId}"`));
  const row = table.slice(
    table.indexOf(`status-${status}"`),
    table.indexOf("</tr>", table.indexOf(`status-${status}"`)),
  );
  return [...row.matchAll(/<td class="number"[^>]*>(\d+)<\/td>/g)].map((match) => match[1] ?? "");
}

describe("console overview", () => {
  it("shows each clinic's last event, 24 h / 7 d counts by status and the same totals as /admin/stats, in 4 round trips plus the session's", async () => {
    await runBatch(EVENTS_QUEUE, [
      receivedAt(
        makeEvent("order:shipped", { data: { order_id: uniqueId("ord") } }),
        new Date(NOW.getTime() - 10 * MINUTE),
      ),
      receivedAt(makeEvent("refill:denied", { data: { refill_id: 7 } }), new Date(NOW.getTime() - 180 * MINUTE)),
      receivedAt(makeEvent("console:unknown"), new Date(NOW.getTime() - 3 * 24 * 60 * MINUTE)),
      receivedAt(makeEvent("console:unknown"), new Date(NOW.getTime() - 8 * 24 * 60 * MINUTE)),
    ]);
    const { fetcher, counting } = consoleAtNow();
    const { cookie } = await signIn(fetcher);
    const before = counting.roundTrips();
    const response = await consoleFetch("/console", { cookie }, fetcher);
    expect(response.status).toBe(200);
    // The session's (one statement reads and touches it), then the page's four.
    expect(counting.roundTrips() - before).toBe(5);
    const html = await response.text();

    expect(html).toContain(`data-clinic="${CLINIC_ID}"`);
    expect(html).toContain('datetime="2031-05-10T15:20:00.000Z"');
    expect(html).toContain("May 10, 2031, 11:20:00 EDT");
    expect(html).toContain("(10 min ago)");
    expect(html).toContain("never");
    expect(cellText(html, "event-totals", "processed").slice(0, 2)).toEqual(["1", "1"]);
    expect(cellText(html, "event-totals", "invalid").slice(0, 2)).toEqual(["1", "1"]);
    expect(cellText(html, "event-totals", "ignored").slice(0, 2)).toEqual(["0", "1"]);

    const stats = await adminJson<{ events: { total: number; by_status: Record<string, number> } }>("/stats");
    for (const status of ["processed", "invalid", "ignored", "dead", "failed"]) {
      expect(cellText(html, "event-totals", status)[2]).toBe(String(stats.body.events.by_status[status] ?? 0));
    }
    expect(html).toMatch(new RegExp(`data-status="total">${stats.body.events.total}<`));
    expect(html).toContain('href="/console/events?status=invalid"');
    expect(html).toMatch(/role="img" aria-labelledby="chart-24h-title chart-24h-desc"/);
    // Each chart has a visible title and labelled axes (events up, hours or days along).
    expect(html).toContain('<figcaption class="chart-title">Events received in the last 24 hours');
    expect(html.match(/<text class="axis axis-label"[^>]*>events<\/text>/g)).toHaveLength(2);
    expect(html).toMatch(/<text class="axis axis-label"[^>]*>hour \(America\/New_York\)<\/text>/);
    expect(html).toMatch(/<text class="axis axis-label"[^>]*>day \(America\/New_York\)<\/text>/);
    expect(html).toContain("Events received in the last 7 days, per day, by status");

    // More events, same number of round trips.
    await runBatch(
      EVENTS_QUEUE,
      Array.from({ length: 20 }, () => receivedAt(makeEvent("console:unknown"), new Date(NOW.getTime() - MINUTE))),
    );
    const again = counting.roundTrips();
    expect((await consoleFetch("/console", { cookie }, fetcher)).status).toBe(200);
    expect(counting.roundTrips() - again).toBe(5);
  });

  it("shows the webhook deliveries refused in the last 24 hours and the last reason", async () => {
    const { fetcher } = consoleAtNow();
    const { cookie } = await signIn(fetcher);
    const card = async () => {
      const html = await (await consoleFetch("/console", { cookie }, fetcher)).text();
      const start = html.indexOf('id="rejections"');
      return html.slice(start, html.indexOf("</div>", start));
    };
    expect(await card()).toContain("<strong>0</strong>");
    // One older than 24 hours (not counted), then three, the newest an unknown clinic.
    await recordRejection(env.DB, {
      clinicId: CLINIC_ID,
      reason: "invalid_json",
      at: new Date(NOW.getTime() - 25 * 60 * MINUTE),
    });
    await recordRejection(env.DB, {
      clinicId: CLINIC_ID,
      reason: "invalid_envelope",
      at: new Date(NOW.getTime() - 60 * MINUTE),
    });
    await recordRejection(env.DB, {
      clinicId: CLINIC_ID,
      reason: "invalid_envelope",
      at: new Date(NOW.getTime() - 59 * MINUTE),
    });
    await recordRejection(env.DB, {
      clinicId: "unknown",
      reason: "unauthorized",
      at: new Date(NOW.getTime() - 5 * MINUTE),
    });
    const shown = await card();
    expect(shown).toContain('class="card attention"');
    expect(shown).toContain("<strong>3</strong>");
    expect(shown).toContain("last: <code>unauthorized</code>");
    expect(shown).toContain("(5 min ago)");
  });
});

describe("console events list", () => {
  it("filters by status and type, searches by event, order and patient id, and pages with a cursor", async () => {
    const { cookie } = await signIn();
    const type = `console:${uniqueId("t").replaceAll(/[^a-z]/g, "")}`;
    const orderId = uniqueId("ord");
    const patientId = uniqueId("pat");
    const target = makeEvent("order:shipped", { data: { order_id: orderId, patient_id: patientId } });
    await runBatch(EVENTS_QUEUE, [
      eventMessage(target),
      ...Array.from({ length: 51 }, () => eventMessage(makeEvent(type))),
    ]);

    const first = await (await consoleFetch(`/console/events?type=${encodeURIComponent(type)}`, { cookie })).text();
    expect(first.match(/<tr data-event-id=/g)).toHaveLength(50);
    const next = /<a href="([^"]+)" rel="next">/.exec(first)?.[1]?.replaceAll("&amp;", "&");
    expect(next).toBeDefined();
    const second = await (await consoleFetch(next ?? "", { cookie })).text();
    expect(second.match(/<tr data-event-id=/g)).toHaveLength(1);
    expect(second).toContain("First page");

    for (const q of [target.event_id, orderId, patientId]) {
      const html = await (await consoleFetch(`/console/events?q=${encodeURIComponent(q)}`, { cookie })).text();
      expect(html.match(/<tr data-event-id="([^"]+)"/g)).toEqual([`<tr data-event-id="${target.event_id}"`]);
    }
    const none = await (
      await consoleFetch(`/console/events?q=${encodeURIComponent(orderId)}&status=invalid`, { cookie })
    ).text();
    expect(none).toContain("No events match.");
  });

  it("filters by a received range given in clinic time", async () => {
    const { cookie } = await signIn();
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord") } });
    // 14:00 UTC on 10 May 2031 is 10:00 in New York (EDT).
    await runBatch(EVENTS_QUEUE, [receivedAt(event, new Date("2031-05-10T14:00:00.000Z"))]);
    const query = (from: string, to: string) =>
      consoleFetch(`/console/events?q=${event.event_id}&from=${from}&to=${to}`, { cookie }).then((r) => r.text());
    expect(await query("2031-05-10T09:59", "2031-05-10T10:01")).toContain(`data-event-id="${event.event_id}"`);
    expect(await query("2031-05-10T10:01", "2031-05-10T11:00")).toContain("No events match.");
    const bad = await consoleFetch("/console/events?from=yesterday", { cookie });
    expect(bad.status).toBe(400);
  });
});

describe("console event page", () => {
  it("shows the timeline with issues of an invalid event and replays it through the admin API's path", async () => {
    const { cookie, csrf } = await signIn();
    const invalid = makeEvent("refill:denied", { data: { refill_id: 7 } });
    await runBatch(EVENTS_QUEUE, [eventMessage(invalid)]);
    const page = await (await consoleFetch(`/console/events/${invalid.event_id}`, { cookie })).text();
    expect(page).toContain("status-invalid");
    expect(page).toMatch(/<code>data\.refill_id<\/code>|<code>refill_id<\/code>/);
    expect(page).toContain("Replay this event");

    const replay = await consoleFetch(`/console/events/${invalid.event_id}/replay`, { cookie, form: { _csrf: csrf } });
    expect(replay.status).toBe(303);
    expect(replay.headers.get("location")).toBe(`/console/events/${invalid.event_id}?replayed=1`);
    const replayed = await vi.waitFor(async () => {
      const row = await eventRow(invalid.event_id);
      if (!(row.attempts === 2 && row.status === "invalid")) throw new Error("not yet");
      return row;
    }, WAIT);
    expect(replayed.attempts).toBe(2);
    expect(await (await consoleFetch(replay.headers.get("location") ?? "", { cookie })).text()).toContain(
      "Replay queued",
    );
  });

  it("forces a processed event's replay only after the confirmation is ticked", async () => {
    const { cookie, csrf } = await signIn();
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord") } });
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    const page = await (await consoleFetch(`/console/events/${event.event_id}`, { cookie })).text();
    expect(page).toContain('<label for="confirm-force">');
    expect(page).toContain("Set the order&#39;s current status (shipped).");

    const path = `/console/events/${event.event_id}/replay`;
    const plain = await consoleFetch(path, { cookie, form: { _csrf: csrf } });
    expect(plain.status).toBe(409);
    expect(await plain.text()).toContain("replayed only with force=true");
    const unconfirmed = await consoleFetch(path, { cookie, form: { _csrf: csrf, force: "true" } });
    expect(unconfirmed.status).toBe(400);
    expect((await eventRow(event.event_id)).status).toBe("processed");

    const forced = await consoleFetch(path, { cookie, form: { _csrf: csrf, force: "true", confirm: "yes" } });
    expect(forced.status).toBe(303);
    const done = await vi.waitFor(async () => {
      const row = await eventRow(event.event_id);
      if (!(row.status === "processed" && row.applications === 2)) throw new Error("not yet");
      return row;
    }, WAIT);
    expect(done.applications).toBe(2);
  });

  it("answers 404 for an unknown event", async () => {
    const { cookie } = await signIn();
    expect((await consoleFetch("/console/events/evt_nope", { cookie })).status).toBe(404);
  });
});

describe("console entity pages", () => {
  it("shows an order's facts and every event that touched it, applied or stale, with its messages, in 2 round trips plus its audit row and the session's", async () => {
    const orderId = uniqueId("ord");
    const at = (minutes: number) => new Date(Date.UTC(2031, 4, 10, 12, minutes)).toISOString();
    const created = makeEvent("order:created", { timestamp: at(0), data: { order_id: orderId } });
    const shipped = makeEvent("order:shipped", { timestamp: at(10), data: { order_id: orderId } });
    const stale = makeEvent("order:processing", { timestamp: at(5), data: { order_id: orderId } });
    await runBatch(EVENTS_QUEUE, [eventMessage(created), eventMessage(shipped)]);
    await runBatch(EVENTS_QUEUE, [eventMessage(stale)]);

    const { fetcher, counting } = consoleAtNow();
    const { cookie } = await signIn(fetcher);
    const before = counting.roundTrips();
    const response = await consoleFetch(`/console/orders/${orderId}`, { cookie }, fetcher);
    expect(counting.roundTrips() - before).toBe(4);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(html.match(/<tr data-event-id="/g)).toHaveLength(3);
    expect(html).toMatch(new RegExp(`data-event-id="${shipped.event_id}".*?set the current status`, "s"));
    expect(html).toMatch(
      new RegExp(`data-event-id="${stale.event_id}".*?applied; status since moved on, or stale`, "s"),
    );
    expect(html).toContain("1Z999AA10123456784");
    expect(html).toContain("on file");
    expect(html).not.toContain("123 Main Street");
    expect(html).toContain("order_shipped");
    expect(html.match(/<tr data-notification-id=/g)?.length).toBeGreaterThanOrEqual(1);
  });

  it("shows medication requests and refills, and 404s an id nothing named", async () => {
    const { cookie } = await signIn();
    const medicationRequestId = uniqueId("mr");
    const refillId = uniqueId("rf");
    await runBatch(EVENTS_QUEUE, [
      eventMessage(makeEvent("medication_request:approved", { data: { medication_request_id: medicationRequestId } })),
      eventMessage(makeEvent("refill:requested", { data: { refill_id: refillId } })),
    ]);
    const request = await consoleFetch(`/console/medication-requests/${medicationRequestId}`, { cookie });
    expect(request.status).toBe(200);
    expect(await request.text()).toContain("status-approved");
    const refill = await consoleFetch(`/console/refills/${refillId}`, { cookie });
    expect(refill.status).toBe(200);
    expect(await refill.text()).toContain("status-requested");
    expect((await consoleFetch(`/console/orders/${uniqueId("ord")}`, { cookie })).status).toBe(404);
  });
});
