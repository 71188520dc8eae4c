import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { getEntity } from "../../src/db/entities";
import { ALL_CLINICS } from "../../src/db/scope";
import { normaliseTimestamp } from "../../src/events/timestamp";
import { makeEvent, postWebhook, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

describe("timestamps normalised for sorting", () => {
  it.each([
    ["2026-01-15T15:00:00Z", "2026-01-15T15:00:00.000Z"],
    ["2026-01-15T15:00:00z", "2026-01-15T15:00:00.000Z"],
    ["2026-01-15T15:00:00+00:00", "2026-01-15T15:00:00.000Z"],
    ["2026-01-15T15:00:00+0000", "2026-01-15T15:00:00.000Z"],
    ["2026-01-15T15:00:00-00", "2026-01-15T15:00:00.000Z"],
    ["2026-01-15T10:00:00.5-05:00", "2026-01-15T15:00:00.500Z"],
    ["2026-01-15T20:30:00.123456789+0530", "2026-01-15T15:00:00.123Z"],
    ["2026-01-15T15:00:00,25Z", "2026-01-15T15:00:00.250Z"],
    ["9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"],
    ["0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00.000Z"],
  ])("%s → %s", (input, expected) => {
    expect(normaliseTimestamp(input)).toBe(expected);
  });

  it.each([
    "2026-01-15T15:00:00", // no offset
    "2026-01-15 15:00:00Z",
    "2026-02-30T15:00:00Z",
    "2026-01-15T24:00:00Z",
    "2026-01-15T15:00:00+24:00",
    "9999-12-31T23:00:00-02:00", // year 10000 in UTC
    "+010000-01-01T00:00:00Z",
    "yesterday",
  ])("refuses %s", (input) => {
    expect(normaliseTimestamp(input)).toBeNull();
  });

  it("accepts every offset form at the edge and refuses a timestamp past 9999 with 400 invalid_envelope", async () => {
    vi.spyOn(env.EVENTS, "send").mockResolvedValue(undefined as never);
    for (const timestamp of [
      "2026-01-15T15:00:00Z",
      "2026-01-15T15:00:00+00:00",
      "2026-01-15T15:00:00+0000",
      "2026-01-15T15:00:00.123456Z",
    ]) {
      const response = await postWebhook(makeEvent("order:created", { timestamp }));
      expect(response.status, timestamp).toBe(200);
    }
    const late = await postWebhook(makeEvent("order:created", { timestamp: "9999-12-31T23:00:00-02:00" }));
    expect(late.status).toBe(400);
    const body = (await late.json()) as { error: { code: string; issues: { path: string }[] } };
    expect(body.error.code).toBe("invalid_envelope");
    expect(body.error.issues.map((issue) => issue.path)).toEqual(["timestamp"]);
    expect(JSON.stringify(body)).not.toContain("23:00:00-02:00");
  });
});

describe("ties resolve the same way every time", () => {
  /** Applies `first` then `second` (separate batches) to a fresh refill; returns its row. */
  async function refillAfter(types: [string, string], timestamps: [string, string], eventIds?: [string, string]) {
    const refillId = uniqueId("ref");
    const events = types.map((type, index) =>
      makeEvent(type, {
        timestamp: timestamps[index],
        ...(eventIds ? { event_id: eventIds[index] } : {}),
        data: { refill_id: refillId },
      }),
    );
    for (const event of events) await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    return { row: await getEntity(env.DB, ALL_CLINICS, "refill", refillId), events };
  }

  it("refill approved and denied at the same instant: denied wins in both arrival orders", async () => {
    // The same instant, written two ways.
    const instants: [string, string] = ["2026-01-10T12:00:00Z", "2026-01-10T14:00:00.000+02:00"];
    const a = await refillAfter(["refill:approved", "refill:denied"], instants);
    const b = await refillAfter(["refill:denied", "refill:approved"], instants);
    expect(a.row).toMatchObject({ status: "denied", status_event_id: a.events[1]!.event_id });
    expect(b.row).toMatchObject({ status: "denied", status_event_id: b.events[0]!.event_id });
  });

  it("the same status twice at the same instant: the greater event_id sets it in both arrival orders", async () => {
    const instant = "2026-01-10T12:00:00Z";
    const low = uniqueId("evt_a");
    const high = uniqueId("evt_z");
    const a = await refillAfter(["refill:approved", "refill:approved"], [instant, instant], [low, high]);
    const b = await refillAfter(
      ["refill:approved", "refill:approved"],
      [instant, instant],
      [uniqueId("evt_z"), uniqueId("evt_a")],
    );
    expect(a.row?.status_event_id).toBe(high);
    expect(b.row?.status_event_id).toBe(b.events[0]!.event_id);
  });

  it("a later timestamp still beats the tie rule: approved after denied ends approved", async () => {
    const { row } = await refillAfter(
      ["refill:denied", "refill:approved"],
      ["2026-01-10T12:00:00Z", "2026-01-10T12:00:00.001Z"],
    );
    expect(row?.status).toBe("approved");
  });
});
