import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { auditRowsOf } from "../helpers/audit";
import { fetchWith } from "../helpers/clinics";
import { setClock, TEST_NOW } from "../helpers/clock";
import { consoleFetch, eventHistoryOf, signIn } from "../helpers/console";
import { CLINIC_ID, type EnvelopeLike, makeEvent, uniqueId } from "../helpers/events";
import { countingDatabase, EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";
import { WAIT } from "../helpers/wait";

/** A refill event whose refill_id is a number: the consumer records it `invalid`. */
function invalidEvent(): EnvelopeLike {
  return makeEvent("refill:denied", { data: { refill_id: 7 } });
}

/** A queue message whose edge received it at `at`. */
function receivedAt(envelope: EnvelopeLike, at: string) {
  const message = eventMessage(envelope);
  (message.body as { received_at: string }).received_at = at;
  return message;
}

/** Follows a console redirect and returns the page it lands on. */
async function follow(response: Response, cookie: string): Promise<string> {
  expect(response.status).toBe(303);
  return (await consoleFetch(response.headers.get("location") ?? "", { cookie })).text();
}

describe("console bulk replay: selected events", () => {
  it("offers a labelled checkbox on replayable rows only, inside a CSRF-protected POST form", async () => {
    const { cookie } = await signIn();
    const patientId = uniqueId("pat");
    const invalid = makeEvent("refill:denied", { data: { refill_id: 7, patient_id: patientId } });
    const processed = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
    await runBatch(EVENTS_QUEUE, [eventMessage(invalid), eventMessage(processed)]);

    const html = await (await consoleFetch(`/console/events?q=${patientId}`, { cookie })).text();
    expect(html).toContain('<form method="post" action="/console/events/replay" id="bulk-replay"');
    const form = html.slice(
      html.indexOf('id="bulk-replay"'),
      html.indexOf("</form>", html.indexOf('id="bulk-replay"')),
    );
    expect(form).toMatch(/name="_csrf" value="[^"]+"/);
    const rowOf = (eventId: string) => {
      const start = html.indexOf(`data-event-id="${eventId}"`);
      return html.slice(start, html.indexOf("</tr>", start));
    };
    expect(rowOf(invalid.event_id)).toContain(
      `<label class="select"><input type="checkbox" name="event_id" value="${invalid.event_id}"/><span class="visually-hidden">Select ${invalid.event_id}</span></label>`,
    );
    expect(rowOf(processed.event_id)).not.toContain('type="checkbox"');
    expect(html).toContain("Replay selected");
    // A search is not a bulk filter: no "Replay all matching" here.
    expect(html).not.toContain("Replay all matching");
  });

  it("replays the ticked events through the bulk re-drive, redirects back to the list and says how many", async () => {
    const { cookie, csrf } = await signIn();
    const [first, second, untouched] = [invalidEvent(), invalidEvent(), invalidEvent()];
    const processed = makeEvent("order:shipped", { data: { order_id: uniqueId("ord") } });
    await runBatch(
      EVENTS_QUEUE,
      [first, second, untouched, processed].map((event) => eventMessage(event)),
    );

    const response = await consoleFetch("/console/events/replay", {
      cookie,
      form: [
        ["_csrf", csrf],
        ["status", "invalid"],
        ["scope", "selected"],
        ["event_id", first.event_id],
        ["event_id", second.event_id],
        ["event_id", processed.event_id],
      ],
    });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/console/events?status=invalid&replayed=2&selected=3");
    const page = await follow(response, cookie);
    expect(page).toContain("2 events queued for replay. 1 of the 3 selected was no longer dead, failed or invalid.");

    for (const event of [first, second]) {
      const row = await vi.waitFor(async () => {
        const current = await eventRow(event.event_id);
        if (!(current.attempts === 2 && current.status === "invalid")) throw new Error("not yet");
        return current;
      }, WAIT);
      expect(row.attempts).toBe(2);
    }
    expect((await eventRow(untouched.event_id)).attempts).toBe(1);
    const done = await eventRow(processed.event_id);
    expect(done).toMatchObject({ status: "processed", attempts: 1, applications: 1 });
  });

  it("lists the replay in each event's history (who, when, what it did, then its new run); a skipped event says it was skipped", async () => {
    const { cookie, csrf } = await signIn();
    const chosen = [invalidEvent(), invalidEvent(), invalidEvent()];
    const processed = makeEvent("order:shipped", { data: { order_id: uniqueId("ord") } });
    const unselected = invalidEvent();
    await runBatch(
      EVENTS_QUEUE,
      [...chosen, processed, unselected].map((event) => eventMessage(event)),
    );
    const at = new Date(TEST_NOW + 5 * 60_000).toISOString();
    setClock(at);
    const response = await consoleFetch("/console/events/replay", {
      cookie,
      form: [
        ["_csrf", csrf],
        ["scope", "selected"],
        ...[...chosen, processed].map((event): [string, string] => ["event_id", event.event_id]),
      ],
    });
    expect(response.headers.get("location")).toBe("/console/events?replayed=3&selected=4");
    const pageOf = async (eventId: string) => (await consoleFetch(`/console/events/${eventId}`, { cookie })).text();

    for (const event of chosen) {
      await vi.waitFor(async () => {
        if ((await eventRow(event.event_id)).attempts !== 2) throw new Error("not yet");
      }, WAIT);
      const page = await pageOf(event.event_id);
      expect(eventHistoryOf(page)).toEqual([`${at} — bulk replay by token:admin: success (202) — queued to run again`]);
      // What the replay led to: the run it added and the event's outcome, in the same section and timeline.
      expect(page).toContain("The receiver has run it 2 times");
      expect(page).toMatch(/— outcome <span class="status status-invalid">invalid<\/span>/);
      const [row] = (await auditRowsOf("event", event.event_id)).filter((entry) => entry.action === "event.replay");
      expect(row).toMatchObject({ actor: "token:admin", role: "admin", clinic_id: CLINIC_ID, detail: '{"bulk":1}' });
    }
    // Selected but no longer replayable: recorded as skipped, the event untouched.
    expect(eventHistoryOf(await pageOf(processed.event_id))).toEqual([
      `${at} — bulk replay by token:admin: rejected (409) — skipped: it was no longer dead, failed or invalid (or its payload was removed)`,
    ]);
    expect(await eventRow(processed.event_id)).toMatchObject({ status: "processed", attempts: 1 });
    expect(await pageOf(unselected.event_id)).toContain("No replays or reveals by staff.");
  });

  it("refuses an empty selection with a notice, not an error page", async () => {
    const { cookie, csrf } = await signIn();
    const response = await consoleFetch("/console/events/replay", {
      cookie,
      form: { _csrf: csrf, scope: "selected", status: "dead" },
    });
    expect(response.headers.get("location")).toBe("/console/events?status=dead&refused=none_selected");
    expect(await follow(response, cookie)).toContain(
      "Nothing was replayed: select at least one dead, failed or invalid event first.",
    );
  });
});

describe("console bulk replay: all matching", () => {
  it("replays every event of the filter's status and received range (from inclusive), like POST /admin/events/replay", async () => {
    const { cookie, csrf } = await signIn();
    // 10:00 New York time on 3 March 2031 is 15:00 UTC (EST).
    const atFrom = invalidEvent();
    const inside = invalidEvent();
    const before = invalidEvent();
    const after = invalidEvent();
    await runBatch(EVENTS_QUEUE, [
      receivedAt(atFrom, "2031-03-03T15:00:00.000Z"),
      receivedAt(inside, "2031-03-03T15:30:00.000Z"),
      receivedAt(before, "2031-03-03T14:59:59.999Z"),
      receivedAt(after, "2031-03-03T16:00:00.000Z"),
    ]);
    const list = "/console/events?status=invalid&from=2031-03-03T10:00&to=2031-03-03T11:00";
    const html = await (await consoleFetch(list, { cookie })).text();
    expect(html).toContain("Replay all matching (up to 1000)");
    expect(html).toContain('<input type="hidden" name="from" value="2031-03-03T10:00"/>');

    const response = await consoleFetch("/console/events/replay", {
      cookie,
      form: { _csrf: csrf, scope: "matching", status: "invalid", from: "2031-03-03T10:00", to: "2031-03-03T11:00" },
    });
    expect(response.headers.get("location")).toBe(
      "/console/events?status=invalid&from=2031-03-03T10%3A00&to=2031-03-03T11%3A00&replayed=2&scope=matching",
    );
    expect(await follow(response, cookie)).toContain("2 events queued for replay.");
    const historyOf = async (eventId: string) =>
      eventHistoryOf(await (await consoleFetch(`/console/events/${eventId}`, { cookie })).text());
    for (const event of [atFrom, inside]) {
      await vi.waitFor(async () => expect((await eventRow(event.event_id)).attempts).toBe(2), WAIT);
      expect(await historyOf(event.event_id)).toEqual([
        `${new Date(TEST_NOW).toISOString()} — bulk replay by token:admin: success (202) — queued to run again`,
      ]);
    }
    expect((await eventRow(before.event_id)).attempts).toBe(1);
    expect((await eventRow(after.event_id)).attempts).toBe(1);
    // Outside the filter: not part of the replay, nothing in their history.
    expect(await historyOf(before.event_id)).toEqual([]);
    expect(await historyOf(after.event_id)).toEqual([]);
  });

  it("takes at most 1000 in one run and says so", async () => {
    const { cookie, csrf } = await signIn();
    const type = `refill:${uniqueId("bulk").replaceAll(/[^a-z]/g, "")}`;
    // 1001 stored dead events of one type, written directly: the replay only reads their rows.
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1001)
INSERT INTO events (event_id, event_type, clinic_id, status, attempts, occurred_at, received_at, payload, payload_hash)
SELECT ?1 || i, ?2, 'c', 'dead', 15, '2026-01-15T14:00:00.000Z', '2026-01-15T14:00:00.000Z', '{}', 'h' FROM n`,
    )
      .bind(uniqueId("evt"), type)
      .run();
    const sent = vi.spyOn(env.EVENTS, "sendBatch").mockResolvedValue(undefined as never);

    // D1 allows 1,000 queries per invocation: the replay and its 1,000 history rows take a handful.
    const counting = countingDatabase(env.DB);
    const response = await consoleFetch(
      "/console/events/replay",
      { cookie, form: { _csrf: csrf, scope: "matching", status: "dead", type } },
      (request) => fetchWith({ ...env, DB: counting.db }, request),
    );
    expect(counting.queries()).toBeLessThanOrEqual(10);
    expect(await follow(response, cookie)).toContain(
      "1000 events queued for replay. At most 1000 are replayed at a time; replay again for the rest.",
    );
    expect(sent.mock.calls.flatMap(([messages]) => [...messages])).toHaveLength(1000);
    const { results } = await env.DB.prepare(
      "SELECT status, COUNT(*) AS n FROM events WHERE event_type = ?1 GROUP BY status ORDER BY status",
    )
      .bind(type)
      .all();
    expect(results).toEqual([
      { status: "dead", n: 1 },
      { status: "queued", n: 1000 },
    ]);
    // One history row per event taken, none for the one left dead.
    const history = await env.DB.prepare(
      `SELECT e.status, a.outcome, a.status AS http, COUNT(*) AS n FROM events e JOIN audit a
ON a.target_type = 'event' AND a.target_id = e.event_id AND a.action = 'event.replay'
WHERE e.event_type = ?1 GROUP BY e.status, a.outcome, a.status`,
    )
      .bind(type)
      .all();
    expect(history.results).toEqual([{ status: "queued", outcome: "success", http: 202, n: 1000 }]);
  });

  it("refuses without a replayable status, with a search, or with invalid filters, and when nothing can be queued", async () => {
    const { cookie, csrf } = await signIn();
    const cases: [Record<string, string>, string, string][] = [
      [{}, "refused=none_selected", ""],
      [{ scope: "matching" }, "refused=no_status", "needs the status filter set to dead, failed or invalid"],
      [{ scope: "matching", status: "processed" }, "refused=no_status", "needs the status filter"],
      [{ scope: "matching", status: "dead", q: "ord_1" }, "refused=search", "does not take a search"],
      [{ scope: "matching", status: "dead", from: "yesterday" }, "refused=invalid_filters", "filters are not valid"],
    ];
    for (const [fields, location, notice] of cases) {
      const response = await consoleFetch("/console/events/replay", { cookie, form: { _csrf: csrf, ...fields } });
      expect(response.status).toBe(303);
      expect(response.headers.get("location")).toContain(location);
      expect(await follow(response, cookie)).toContain(notice || "select at least one");
    }

    const stuck = invalidEvent();
    await runBatch(EVENTS_QUEUE, [eventMessage(stuck)]);
    vi.spyOn(env.EVENTS, "sendBatch").mockRejectedValue(new Error("queue unavailable"));
    const response = await consoleFetch("/console/events/replay", {
      cookie,
      form: [
        ["_csrf", csrf],
        ["scope", "selected"],
        ["event_id", stuck.event_id],
      ],
    });
    expect(await follow(response, cookie)).toContain("the events could not be queued; retry in a minute");
    expect((await eventRow(stuck.event_id)).status).toBe("invalid");
  });

  it("refuses a POST without the session's CSRF token or from another origin", async () => {
    const { cookie, csrf } = await signIn();
    const event = invalidEvent();
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    const form = { scope: "selected", event_id: event.event_id };
    expect((await consoleFetch("/console/events/replay", { cookie, form })).status).toBe(403);
    const crossSite = await consoleFetch("/console/events/replay", {
      cookie,
      form: { ...form, _csrf: csrf },
      headers: { origin: "https://evil.test" },
    });
    expect(crossSite.status).toBe(403);
    expect((await eventRow(event.event_id)).attempts).toBe(1);
    expect((await eventRow(event.event_id)).status).toBe("invalid");
  });
});
