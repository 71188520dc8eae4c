import { describe, expect, it } from "vitest";
import { hopDelaySeconds, MAX_QUEUE_DELAY_SECONDS, nextSmsWindowOpening } from "../../src/notify/quiet-hours";

const WINDOW = { start: 8 * 60, end: 21 * 60 };
const at = (iso: string) => new Date(iso);

describe("SMS send window", () => {
  it.each([
    // New York in January is UTC-5.
    ["America/New_York", "2026-01-15T12:59:59Z", "2026-01-15T13:00:00.000Z"], // 07:59:59 local
    ["America/New_York", "2026-01-15T13:00:00Z", null], // 08:00 opens
    ["America/New_York", "2026-01-16T01:59:59Z", null], // 20:59:59 still open
    ["America/New_York", "2026-01-16T02:00:00Z", "2026-01-16T13:00:00.000Z"], // 21:00 closed → tomorrow 08:00
    // Tokyo, UTC+9, no DST.
    ["Asia/Tokyo", "2026-01-15T22:30:00Z", "2026-01-15T23:00:00.000Z"], // 07:30 local on the 16th
    ["Asia/Tokyo", "2026-01-15T12:00:00Z", "2026-01-15T23:00:00.000Z"], // 21:00 local on the 15th
    // Kolkata, UTC+5:30.
    ["Asia/Kolkata", "2026-03-01T02:29:00Z", "2026-03-01T02:30:00.000Z"], // 07:59 local
    ["Asia/Kolkata", "2026-03-01T02:30:00Z", null],
    // Crossing a month end.
    ["Europe/Berlin", "2026-01-31T22:00:00Z", "2026-02-01T07:00:00.000Z"], // 23:00 local
  ])("%s at %s → %s", (zone, now, expected) => {
    const opening = nextSmsWindowOpening(at(now), zone, WINDOW);
    expect(opening?.toISOString() ?? null).toBe(expected);
  });

  it("uses the right offset across a DST change", () => {
    // New York springs forward on 2026-03-08 at 02:00 local: 08:00 that day is 12:00Z (UTC-4),
    // while the evening before it was UTC-5.
    expect(nextSmsWindowOpening(at("2026-03-08T04:00:00Z"), "America/New_York", WINDOW)?.toISOString()).toBe(
      "2026-03-08T12:00:00.000Z",
    );
    // Falls back on 2026-11-01: 08:00 that day is 13:00Z (UTC-5); 21:00 the day before is 01:00Z (UTC-4).
    expect(nextSmsWindowOpening(at("2026-11-01T01:00:00Z"), "America/New_York", WINDOW)?.toISOString()).toBe(
      "2026-11-01T13:00:00.000Z",
    );
    // London springs forward on 2026-03-29: 08:00 BST is 07:00Z.
    expect(nextSmsWindowOpening(at("2026-03-29T00:30:00Z"), "Europe/London", WINDOW)?.toISOString()).toBe(
      "2026-03-29T07:00:00.000Z",
    );
  });

  it("honours a configured window", () => {
    const narrow = { start: 10 * 60, end: 18 * 60 };
    expect(nextSmsWindowOpening(at("2026-01-15T14:30:00Z"), "America/New_York", narrow)?.toISOString()).toBe(
      "2026-01-15T15:00:00.000Z",
    );
    expect(nextSmsWindowOpening(at("2026-01-15T15:00:00Z"), "America/New_York", narrow)).toBeNull();
  });

  it("delays in hops of at most the queue's 12-hour limit", () => {
    const now = at("2026-01-15T00:00:00Z");
    expect(hopDelaySeconds(now, at("2026-01-15T11:00:00Z"))).toBe(11 * 3600);
    expect(hopDelaySeconds(now, at("2026-01-16T06:00:00Z"))).toBe(MAX_QUEUE_DELAY_SECONDS);
    expect(hopDelaySeconds(now, now)).toBe(1);
  });
});
