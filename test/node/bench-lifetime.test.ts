import { describe, expect, it } from "vitest";
import { ARCHIVE_DAY, ARCHIVE_DAYS, nextDay, SHELF_AFTER_DAYS, SHELF_DAYS } from "../../bench/lifetime.ts";

/** The days nextDay fires, given the events left in D1 after each archive-or-later day. */
function schedule(eventsLeftAfter: (day: number) => number): number[] {
  const days: number[] = [];
  const counts: number[] = [];
  for (let day = nextDay(days, counts); day !== null; day = nextDay(days, counts)) {
    days.push(day);
    if (day >= ARCHIVE_DAY) counts.push(eventsLeftAfter(day));
    if (days.length > 100) throw new Error("no end");
  }
  return days;
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, index) => from + index);

describe("bench: the lifetime crons' days (bench/lifetime.ts)", () => {
  it("runs retention on day 31, the archive from day 91 until a run moves nothing, then the shelf a year on", () => {
    // The first archive run moves everything, the second moves nothing.
    const days = schedule(() => 0);
    expect(days).toEqual([31, 91, 92, ...range(92 + SHELF_AFTER_DAYS, SHELF_DAYS)]);
  });

  it("keeps archiving while each run moves events, at most ARCHIVE_DAYS runs", () => {
    // 300 events, 100 a run: 200, 100, 0, then 0 (nothing moved) ends the archive days.
    const left = new Map([
      [91, 200],
      [92, 100],
      [93, 0],
      [94, 0],
    ]);
    expect(schedule((day) => left.get(day) ?? 0)).toEqual([
      31,
      91,
      92,
      93,
      94,
      ...range(94 + SHELF_AFTER_DAYS, SHELF_DAYS),
    ]);
    // A backlog that never ends stops after ARCHIVE_DAYS runs.
    const days = schedule((day) => 10_000 - Math.min(day, ARCHIVE_DAY + ARCHIVE_DAYS));
    const archiveDays = days.filter((day) => day >= ARCHIVE_DAY && day < ARCHIVE_DAY + ARCHIVE_DAYS);
    expect(archiveDays).toEqual(range(ARCHIVE_DAY, ARCHIVE_DAYS));
    expect(days.slice(-SHELF_DAYS)).toEqual(range(ARCHIVE_DAY + ARCHIVE_DAYS - 1 + SHELF_AFTER_DAYS, SHELF_DAYS));
  });
});
