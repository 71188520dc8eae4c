import { describe, expect, it, vi } from "vitest";
import { auditRowsOf } from "../helpers/audit";
import { consoleFetch, signIn } from "../helpers/console";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";
import { WAIT } from "../helpers/wait";

const ADDRESS = { line1: "12 Canary Lane", line2: null, city: "Springfield", state: "IL", zip: "62704" };

/** An order shipped to the canary address, and an invalid refill event, for one new patient. */
async function patientEvents() {
  const patientId = uniqueId("pat");
  const orderId = uniqueId("ord");
  const shipped = makeEvent("order:shipped", {
    data: {
      order_id: orderId,
      patient_id: patientId,
      carrier: "UPS",
      tracking_number: "1Z999AA10123456784",
      shipping_address: ADDRESS,
    },
  });
  const invalid = makeEvent("refill:denied", { data: { refill_id: 7, patient_id: patientId } });
  await runBatch(EVENTS_QUEUE, [eventMessage(shipped), eventMessage(invalid)]);
  return { patientId, orderId, shipped, invalid };
}

describe("the events list shows what staff look for", () => {
  it("shows patient, entity, when it happened, the notification outcome and the first issue; type is a select", async () => {
    const { patientId, orderId, shipped, invalid } = await patientEvents();
    const { cookie } = await signIn();
    const html = await (await consoleFetch(`/console/events?q=${patientId}`, { cookie })).text();
    const row = (eventId: string) =>
      html.slice(
        html.indexOf(`data-event-id="${eventId}"`),
        html.indexOf("</tr>", html.indexOf(`data-event-id="${eventId}"`)),
      );
    const shippedRow = row(shipped.event_id);
    expect(shippedRow).toContain(`href="/console/patients/${patientId}"`);
    expect(shippedRow).toContain(`order <a class="mono" href="/console/orders/${orderId}">${orderId}</a>`);
    expect(shippedRow).toMatch(/sms: <span class="status status-\w+">/);
    expect(shippedRow).toMatch(/<time datetime="[^"]+"/);
    const invalidRow = row(invalid.event_id);
    expect(invalidRow).toMatch(/<td class="first-issue">[^<]*refill_id: /);
    expect(invalidRow).toContain('<span class="muted">none</span>');
    expect(html).toMatch(/<select name="type"><option value="">any<\/option><option value="order:created">/);
    const filtered = await (
      await consoleFetch(`/console/events?q=${patientId}&type=order%3Ashipped`, { cookie })
    ).text();
    expect(filtered).toContain('<option value="order:shipped" selected="">');
    expect(filtered).not.toContain(`data-event-id="${invalid.event_id}"`);
  });
});

describe("the event page shows the payload, masked, and its history", () => {
  it("masks address values but shows ids, carrier and tracking number; a reveal is audited first", async () => {
    const { orderId, patientId, shipped } = await patientEvents();
    const { cookie, csrf } = await signIn();
    const page = await (await consoleFetch(`/console/events/${shipped.event_id}`, { cookie })).text();
    const payload = page.slice(page.indexOf('id="payload"'), page.indexOf("</pre>", page.indexOf('id="payload"')));
    expect(payload).toContain(`&quot;order_id&quot;: &quot;${orderId}&quot;`);
    expect(payload).toContain(`&quot;patient_id&quot;: &quot;${patientId}&quot;`);
    expect(payload).toContain("&quot;carrier&quot;: &quot;UPS&quot;");
    expect(payload).toContain("&quot;tracking_number&quot;: &quot;1Z999AA10123456784&quot;");
    expect(payload).toContain("&quot;line1&quot;: &quot;•••&quot;");
    expect(payload).toContain("&quot;zip&quot;: &quot;•••&quot;");
    expect(page).not.toContain("Canary Lane");
    expect(page).not.toContain("62704");
    expect(await auditRowsOf("event", shipped.event_id)).not.toContainEqual(
      expect.objectContaining({ action: "event.reveal_payload" }),
    );

    const forged = await consoleFetch(`/console/events/${shipped.event_id}/reveal`, { cookie, form: { _csrf: "x" } });
    expect(forged.status).toBe(403);
    const revealed = await consoleFetch(`/console/events/${shipped.event_id}/reveal`, {
      cookie,
      form: { _csrf: csrf },
    });
    expect(revealed.status).toBe(200);
    const revealedPage = await revealed.text();
    expect(revealedPage).toContain("12 Canary Lane");
    expect(revealedPage).not.toContain("Reveal payload");
    const reveals = (await auditRowsOf("event", shipped.event_id)).filter((r) => r.action === "event.reveal_payload");
    expect(reveals.map((r) => [r.actor, r.outcome])).toEqual([["token:admin", "success"]]);
    // The reveal shows up in the event's history, and the next view is masked again.
    const after = await (await consoleFetch(`/console/events/${shipped.event_id}`, { cookie })).text();
    expect(after).not.toContain("Canary Lane");
    expect(after).toMatch(
      /payload revealed by <span class="actor-name">token:admin<\/span>: <span class="status status-success">success<\/span> \(200\)/,
    );
  });

  it("lists processing attempts and each replay with who, when and outcome", async () => {
    const { invalid } = await patientEvents();
    const { cookie, csrf } = await signIn();
    const before = await (await consoleFetch(`/console/events/${invalid.event_id}`, { cookie })).text();
    expect(before).toContain("The receiver has run it 1 time (each replay adds a run).");
    expect(before).toContain("No replays or reveals by staff.");
    const replay = await consoleFetch(`/console/events/${invalid.event_id}/replay`, { cookie, form: { _csrf: csrf } });
    expect(replay.status).toBe(303);
    await vi.waitFor(async () => {
      if ((await eventRow(invalid.event_id)).attempts !== 2) throw new Error("not yet");
    }, WAIT);
    const after = await (await consoleFetch(`/console/events/${invalid.event_id}`, { cookie })).text();
    expect(after).toContain("The receiver has run it 2 times");
    const history = after.slice(after.indexOf('id="event-history"'));
    expect(history).toMatch(
      /<li><time datetime="[^"]+"[^>]*>[^<]+<\/time> — replay by <span class="actor-name">token:admin<\/span>: <span class="status status-success">success<\/span> \(303\)<\/li>/,
    );
  });
});
