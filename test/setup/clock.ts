import { afterEach, beforeEach, vi } from "vitest";
import { TEST_NOW } from "../helpers/clock";

// Every Workers test starts at the same instant (a Thursday 10:00 in New York, inside the SMS send
// window), whatever the hour, date or time zone of the machine running the suite. Only `Date` is
// faked: timers, the queue broker and D1 keep real time. The Worker under test runs in the same
// isolate, so its `Date.now()` reads this clock too; a test moves it with `setClock(...)`.
// `vi.setSystemTime` without `vi.useFakeTimers` mocks `Date` alone and freezes it; with fake timers
// instead, `vi.waitFor` would advance the clock on every poll and move the times tests assert.
beforeEach(() => {
  vi.setSystemTime(TEST_NOW);
});

afterEach(() => {
  vi.useRealTimers();
});
