import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { adminFetch, adminJson } from "../helpers/admin";
import { auditRowsOf } from "../helpers/audit";
import { setClock } from "../helpers/clock";
import { consoleFetch, eventHistoryOf, signIn } from "../helpers/console";
import { CLINIC_ID, makeEvent, uniqueId } from "../helpers/events";
import { eventRow, processedRow, runDeadLetter } from "../helpers/queue";

function bulkReplay(body: unknown) {
  return adminJson("/events/replay", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Dead events received at `at` (the file shares one database, so each test takes its own instant). */
async function deadEvents(at: string, count: number, type = "order:cancelled") {
  setClock(at);
  const events = [];
  for (let index = 0; index < count; index += 1) {
    const event = makeEvent(type, { data: { order_id: uniqueId("ord"), refill_id: uniqueId("ref") } });
    await runDeadLetter(event);
    events.push(event);
  }
  return events;
}

const window = (at: string) => ({
  received_after: new Date(Date.parse(at) - 1000).toISOString(),
  received_before: new Date(Date.parse(at) + 1000).toISOString(),
});

describe("POST /admin/events/replay", () => {
  it("re-drives every matching event through the queue once; a second call re-drives none", async () => {
    const at = "2026-02-01T10:00:00.000Z";
    const events = await deadEvents(at, 3);
    const otherType = await deadEvents(at, 1, "refill:denied");

    const first = await bulkReplay({ status: "dead", type: "order:cancelled", ...window(at) });
    expect(first).toEqual({ status: 202, body: { replayed: 3 } });
    // Each event's page lists the bulk replay (who, when, what it did), as it lists a single one.
    const { cookie } = await signIn();
    for (const event of events) {
      const page = await (await consoleFetch(`/console/events/${event.event_id}`, { cookie })).text();
      expect(eventHistoryOf(page)).toEqual([`${at} — bulk replay by token:admin: success (202) — queued to run again`]);
    }
    // Its rows carry the event's clinic and the request id of the request's one `event.bulk_replay` row.
    const bulkRow = await env.DB.prepare(
      `SELECT request_id, detail FROM audit WHERE action = 'event.bulk_replay' ORDER BY audit_id DESC LIMIT 1`,
    ).first();
    expect(bulkRow).toMatchObject({ detail: '{"replayed":3}' });
    for (const event of events) {
      expect(await auditRowsOf("event", event.event_id)).toContainEqual(
        expect.objectContaining({ action: "event.replay", request_id: bulkRow?.request_id, clinic_id: CLINIC_ID }),
      );
    }
    expect(await auditRowsOf("event", otherType[0]!.event_id)).toEqual([]);
    expect((await eventRow(otherType[0]!.event_id)).status).toBe("dead");
    const again = await bulkReplay({ status: "dead", type: "order:cancelled", ...window(at) });
    expect(again).toEqual({ status: 202, body: { replayed: 0 } });
    // The status alone is a filter too.
    expect((await bulkReplay({ status: "invalid", limit: 1000 })).status).toBe(202);

    for (const event of events) {
      const row = await processedRow(event.event_id);
      expect(row.applications).toBe(1);
    }
  });

  it("takes at most `limit` events, oldest first, and accepts offsets in the bounds", async () => {
    const at = "2026-02-02T10:00:00.000Z";
    const events = await deadEvents(at, 3, "refill:denied");
    const result = await bulkReplay({
      status: "dead",
      limit: 2,
      received_after: "2026-02-02T05:59:59-04:00",
      received_before: "2026-02-02T10:00:01+00:00",
    });
    expect(result).toEqual({ status: 202, body: { replayed: 2 } });
    const statuses = await Promise.all(events.map(async (event) => (await eventRow(event.event_id)).status));
    expect(statuses.filter((status) => status === "dead")).toHaveLength(1);
  });

  it("puts events back to their status and answers 503 when nothing could be enqueued", async () => {
    const at = "2026-02-03T10:00:00.000Z";
    const [event] = await deadEvents(at, 1);
    vi.spyOn(env.EVENTS, "sendBatch").mockRejectedValue(new Error("queue unavailable"));
    const response = await adminFetch("/events/replay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ status: "dead", ...window(at) }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("30");
    expect(await response.json()).toMatchObject({ error: { code: "enqueue_failed" } });
    expect((await eventRow(event!.event_id)).status).toBe("dead");
    // The event's history says the replay was tried and undone.
    const { cookie } = await signIn();
    const page = await (await consoleFetch(`/console/events/${event!.event_id}`, { cookie })).text();
    expect(eventHistoryOf(page)).toEqual([
      `${at} — bulk replay by token:admin: error (503) — could not be queued; its status was put back`,
    ]);
  });

  it("validates the body: issues by path, never the submitted values", async () => {
    const cases: [unknown, string][] = [
      [{ status: "processed" }, "status"],
      [{}, "status"],
      [{ status: "dead", limit: 0 }, "limit"],
      [{ status: "dead", limit: 1001 }, "limit"],
      [{ status: "dead", limit: 2.5 }, "limit"],
      [{ status: "dead", received_after: "yesterday-secret" }, "received_after"],
      [{ status: "dead", type: "" }, "type"],
      [{ status: "dead", colour: "blue" }, ""],
    ];
    for (const [body, path] of cases) {
      const result = await bulkReplay(body);
      expect(result.status).toBe(400);
      const error = (result.body as { error: { code: string; issues: { path: string }[] } }).error;
      expect(error.code).toBe("invalid_body");
      expect(error.issues.map((issue) => issue.path)).toContain(path);
      expect(JSON.stringify(result.body)).not.toContain("secret");
    }
    const notJson = await adminFetch("/events/replay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { code: "invalid_json" } });
    const notAuthorised = await adminFetch("/events/replay", { method: "POST", body: "{}" }, null);
    expect(notAuthorised.status).toBe(401);
  });
});
