import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hopDelaySeconds, MAX_QUEUE_DELAY_SECONDS, nextSmsWindowOpening } from "../../src/notify/quiet-hours";
import { localTime } from "../../src/time-zone";

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

  it("opens a window that starts inside a DST gap when the gap ends, never at or before now", () => {
    // New York, 2026-03-08: 01:59:59 EST is followed by 03:00 EDT; 02:30 does not exist that night.
    const small = { start: 2 * 60 + 30, end: 21 * 60 };
    for (const now of ["2026-03-08T06:59:00Z", "2026-03-08T06:30:00Z", "2026-03-08T06:00:00Z"]) {
      expect(nextSmsWindowOpening(at(now), "America/New_York", small)?.toISOString()).toBe("2026-03-08T07:00:00.000Z");
    }
    // Havana jumps from 00:00 to 01:00 on 2026-03-08 (05:00Z): a window from midnight opens at 01:00.
    const fromMidnight = { start: 0, end: 21 * 60 };
    for (const now of ["2026-03-08T04:30:00Z", "2026-03-08T04:59:59Z"]) {
      expect(nextSmsWindowOpening(at(now), "America/Havana", fromMidnight)?.toISOString()).toBe(
        "2026-03-08T05:00:00.000Z",
      );
    }
    // Santiago jumps from 24:00 on 2026-09-05 to 01:00 on the 6th (04:00Z).
    expect(nextSmsWindowOpening(at("2026-09-06T03:30:00Z"), "America/Santiago", fromMidnight)?.toISOString()).toBe(
      "2026-09-06T04:00:00.000Z",
    );
  });

  it("skips a day whose window lies wholly inside the DST gap", () => {
    // 02:00–02:45 never happens in New York on 2026-03-08: the next opening is the 9th at 02:00 EDT.
    const inGap = { start: 2 * 60, end: 2 * 60 + 45 };
    expect(nextSmsWindowOpening(at("2026-03-08T06:30:00Z"), "America/New_York", inGap)?.toISOString()).toBe(
      "2026-03-09T06:00:00.000Z",
    );
  });

  it("opens when a clock set back lands inside the window", () => {
    // New York, 2026-11-01: at 01:45 EDT (05:45Z) a window ending 01:30 has closed, but at 06:00Z the
    // clock reads 01:00 EST again, inside it.
    const early = { start: 0, end: 90 };
    expect(nextSmsWindowOpening(at("2026-11-01T05:45:00Z"), "America/New_York", early)?.toISOString()).toBe(
      "2026-11-01T06:00:00.000Z",
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

/**
 * The instants of 2026–2027 at which `zone` changes its offset, each the first second of the new
 * offset (found day by day, then to the second).
 */
function offsetChanges(zone: string): number[] {
  const offset = (instant: number) => {
    const local = localTime(instant, zone);
    return Date.UTC(local.year, local.month - 1, local.day, 0, local.minutes, local.seconds) - instant;
  };
  const changes: number[] = [];
  const first = Date.UTC(2026, 0, 1);
  const last = Date.UTC(2028, 0, 1);
  let before = offset(first);
  for (let day = first; day < last; day += 86_400_000) {
    const after = offset(day + 86_400_000);
    if (after === before) continue;
    let low = day / 1000;
    let high = (day + 86_400_000) / 1000;
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (offset(middle * 1000) === before) low = middle;
      else high = middle;
    }
    changes.push(high * 1000);
    before = after;
  }
  return changes;
}

describe("SMS send window in every IANA zone, 2026–2027 (property)", () => {
  const zones = Intl.supportedValuesOf("timeZone");
  const from = Date.UTC(2026, 0, 1);
  const to = Date.UTC(2028, 0, 1);

  it("covers the runtime's zone list", () => {
    expect(zones.length).toBeGreaterThan(300);
    expect(zones).toContain("America/New_York");
  });

  it.each(zones)("%s: the opening is strictly after now, inside the window, and the first instant there", (zone) => {
    const changes = offsetChanges(zone);
    const inWindow = (instant: number, window: { start: number; end: number }) => {
      const minutes = localTime(instant, zone).minutes;
      return minutes >= window.start && minutes < window.end;
    };
    // Instants near an offset change (up to a day before it, an hour after), or anywhere in 2026–2027.
    const nearChange =
      changes.length > 0
        ? fc
            .tuple(fc.constantFrom(...changes), fc.integer({ min: -26 * 3600, max: 3600 }))
            .map(([change, seconds]) => change + seconds * 1000)
        : fc.integer({ min: from, max: to });
    const instants = fc.oneof(nearChange, fc.integer({ min: from, max: to }));
    // Windows starting where an offset change puts its gap (the local time just before it, plus up to
    // 90 minutes), at midnight, or anywhere; ending any minute after the start.
    const starts = fc.oneof(
      changes.length > 0
        ? fc
            .tuple(fc.constantFrom(...changes), fc.integer({ min: 0, max: 90 }))
            .map(([change, minutes]) => Math.min(1439, localTime(change - 1000, zone).minutes + 1 + minutes))
        : fc.constant(0),
      fc.constant(0),
      fc.integer({ min: 0, max: 1439 }),
    );
    const windows = starts.chain((start) => fc.integer({ min: start + 1, max: 1440 }).map((end) => ({ start, end })));
    fc.assert(
      fc.property(instants, windows, (nowMs, window) => {
        const opening = nextSmsWindowOpening(new Date(nowMs), zone, window);
        if (inWindow(nowMs, window)) {
          expect(opening).toBeNull();
          return;
        }
        expect(opening).not.toBeNull();
        const openingMs = opening?.getTime() ?? 0;
        expect(openingMs).toBeGreaterThan(nowMs);
        expect(inWindow(openingMs, window)).toBe(true);
        // The window opens there: a second earlier (if still after now) is outside it, and so is
        // every hour mark between now and then.
        if (openingMs - 1000 > nowMs) expect(inWindow(openingMs - 1000, window)).toBe(false);
        for (let instant = nowMs + 3_600_000; instant < openingMs; instant += 3_600_000) {
          expect(inWindow(instant, window)).toBe(false);
        }
        expect(hopDelaySeconds(new Date(nowMs), opening ?? new Date(0))).toBeGreaterThanOrEqual(1);
      }),
      { seed: 19, numRuns: 30 },
    );
  });
});
