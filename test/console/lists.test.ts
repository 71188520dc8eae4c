import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { consoleFetch, signIn } from "../helpers/console";
import { makeEvent, uniqueId } from "../helpers/events";
import { createPatient } from "../helpers/notifications";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

/** The ids of a list page's rows, in order. */
function rowIds(html: string): string[] {
  return [...html.matchAll(/<tr data-id="([^"]+)"/g)].map((match) => match[1] ?? "");
}

/** The href of the page's "Next page" link, unescaped. */
function nextLink(html: string): string | null {
  const match = /<a href="([^"]+)" rel="next">/.exec(html);
  return match?.[1]?.replaceAll("&amp;", "&") ?? null;
}

describe("the console's list pages", () => {
  it("lists orders newest status first, 50 a page with a cursor, filtered by status and time range", async () => {
    const { cookie } = await signIn();
    // 52 orders in one day of 2024 (no other test of this file writes that day): 51 shipped, 1 cancelled.
    const events = Array.from({ length: 52 }, (_, index) =>
      makeEvent(index === 51 ? "order:cancelled" : "order:shipped", {
        timestamp: new Date(Date.UTC(2024, 4, 1, 12, index)).toISOString(),
        data: { order_id: uniqueId(`ord${String(index).padStart(2, "0")}`) },
      }),
    );
    await runBatch(
      EVENTS_QUEUE,
      events.map((event) => eventMessage(event)),
    );
    const orderIds = events.map((event) => String(event.data.order_id));
    const window = "from=2024-05-01T00%3A00&to=2024-05-02T00%3A00";

    const first = await (await consoleFetch(`/console/orders?${window}`, { cookie })).text();
    expect(rowIds(first)).toHaveLength(50);
    expect(rowIds(first)[0]).toBe(orderIds[51]);
    const next = nextLink(first);
    expect(next).toContain("from=2024-05-01T00%3A00");
    const second = await (await consoleFetch(next ?? "", { cookie })).text();
    expect(rowIds(second)).toEqual([orderIds[1], orderIds[0]]);
    expect(nextLink(second)).toBeNull();
    expect(second).toContain("First page");
    expect(new Set([...rowIds(first), ...rowIds(second)])).toEqual(new Set(orderIds));

    const cancelled = await (await consoleFetch(`/console/orders?status=cancelled&${window}`, { cookie })).text();
    expect(rowIds(cancelled)).toEqual([orderIds[51]]);
    const before = await (await consoleFetch("/console/orders?to=2024-05-01T08%3A05", { cookie })).text();
    expect(rowIds(before)).not.toContain(orderIds[6]);
    expect(rowIds(before)).toContain(orderIds[0]);

    expect((await consoleFetch("/console/orders?status=lost", { cookie })).status).toBe(400);
    expect((await consoleFetch("/console/orders?cursor=nonsense", { cookie })).status).toBe(400);
    expect((await consoleFetch("/console/orders?from=yesterday", { cookie })).status).toBe(400);
  });

  it("lists medication requests and refills by status, and patients with their contacts masked", async () => {
    const [requestId, refillId] = [uniqueId("mr"), uniqueId("ref")];
    const seeded = [
      makeEvent("refill:denied", { data: { refill_id: refillId } }),
      makeEvent("medication_request:approved", { data: { medication_request_id: requestId } }),
    ];
    await runBatch(
      EVENTS_QUEUE,
      seeded.map((event) => eventMessage(event)),
    );
    const { cookie } = await signIn();
    const requests = await (await consoleFetch("/console/medication-requests?status=approved", { cookie })).text();
    expect(rowIds(requests)).toContain(requestId);
    expect(
      rowIds(await (await consoleFetch("/console/medication-requests?status=filled", { cookie })).text()),
    ).not.toContain(requestId);
    expect(rowIds(await (await consoleFetch("/console/refills?status=denied", { cookie })).text())).toContain(refillId);

    const patientId = await createPatient({ phone: "+14155550177", email: "masked.person@example.org" });
    const patients = await (await consoleFetch("/console/patients", { cookie })).text();
    expect(rowIds(patients)).toContain(patientId);
    expect(patients).toContain("+1•••••0177");
    expect(patients).not.toContain("+14155550177");
    expect(patients).not.toContain("masked.person");
    const audit = await env.DB.prepare(`SELECT COUNT(*) AS n FROM audit WHERE action = 'patient.list'`).first<{
      n: number;
    }>();
    expect(audit?.n).toBeGreaterThan(0);
  });

  it("lists notifications filtered by status, reason, channel, kind and time range", async () => {
    const { cookie } = await signIn();
    const eventId = uniqueId("evt");
    const insert = (id: string, channel: string, kind: string, status: string, error: string | null, at: string) =>
      env.DB.prepare(
        `INSERT INTO notifications (notification_id, event_id, channel, kind, patient_id, entity_id, status, error, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'pat_list', 'ord_list', ?5, ?6, ?7, ?7)`,
      )
        .bind(id, `${eventId}-${id}`, channel, kind, status, error, at)
        .run();
    const capped = uniqueId("ntf");
    const held = uniqueId("ntf");
    const sent = uniqueId("ntf");
    await insert(capped, "sms", "order_shipped", "suppressed", "daily_cap", "2024-06-01T12:00:00.000Z");
    await insert(held, "email", "order_shipped", "held", "provider_not_configured", "2024-06-01T12:01:00.000Z");
    await insert(sent, "sms", "refill_denied", "sent", null, "2024-06-01T12:02:00.000Z");
    const window = "from=2024-06-01T00%3A00&to=2024-06-02T00%3A00";
    const list = async (query: string) =>
      rowIds(await (await consoleFetch(`/console/notifications?${query}&${window}`, { cookie })).text());
    expect(await list("")).toEqual([sent, held, capped]);
    expect(await list("status=suppressed&reason=daily_cap")).toEqual([capped]);
    expect(await list("channel=email")).toEqual([held]);
    expect(await list("kind=refill_denied&channel=sms")).toEqual([sent]);
    expect(await list("reason=quiet_hours")).toEqual([]);
    expect((await consoleFetch("/console/notifications?channel=fax", { cookie })).status).toBe(400);
  });

  it("has a search box in the header that posts, finds a patient by phone, audited without the number", async () => {
    const { cookie, csrf } = await signIn();
    const patientId = await createPatient({ phone: "+14155550178" });
    const overview = await (await consoleFetch("/console", { cookie })).text();
    // A POST: the number never lands in a URL (browser history, request logs).
    expect(overview).toMatch(
      /<form method="post" action="\/console\/search" role="search" class="site-search"><input type="hidden" name="_csrf"/,
    );
    const forged = await consoleFetch("/console/search", { cookie, form: { q: "(415) 555-0178" } });
    expect(forged.status).toBe(403);
    const response = await consoleFetch("/console/search", { cookie, form: { q: "(415) 555-0178", _csrf: csrf } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain(`href="/console/patients/${patientId}?clinic=`);
    expect(html).toContain("phone number");
    expect(html).not.toContain("0178");
    const row = await env.DB.prepare(`SELECT action, target_id FROM audit WHERE request_id = ?1`)
      .bind(response.headers.get("x-request-id"))
      .first<{ action: string; target_id: string }>();
    expect(row?.action).toBe("search");
    expect(row?.target_id).toMatch(/^phone:[0-9a-f]{16}$/);
    expect((await consoleFetch("/console/search?q=", { cookie })).status).toBe(400);
    expect((await consoleFetch("/console/search", { cookie, form: { q: " ", _csrf: csrf } })).status).toBe(400);
    // Links keep working: GET ?q= is the same search.
    const linked = await consoleFetch(`/console/search?q=${encodeURIComponent("(415) 555-0178")}`, { cookie });
    expect(await linked.text()).toContain(`href="/console/patients/${patientId}?clinic=`);
  });

  it("keeps the events list's search by id, audited when it names a patient, not without one", async () => {
    const { cookie } = await signIn();
    const patientId = await createPatient();
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    const searched = await consoleFetch(`/console/events?q=${patientId}`, { cookie });
    expect(await searched.text()).toContain(event.event_id);
    const unsearched = await consoleFetch("/console/events", { cookie });
    await unsearched.body?.cancel();
    const rowsOf = (response: Response) =>
      env.DB.prepare(`SELECT action, target_type, target_id FROM audit WHERE request_id = ?1`)
        .bind(response.headers.get("x-request-id"))
        .all<Record<string, string>>();
    expect((await rowsOf(searched)).results).toEqual([
      { action: "event.search", target_type: "search", target_id: patientId },
    ]);
    expect((await rowsOf(unsearched)).results).toEqual([]);
  });
});
