import { afterEach, beforeEach, vi } from "vitest";
import { TEST_NOW } from "../helpers/clock";

// Every Workers test starts at the same instant (a Thursday 10:00 in New York, inside the SMS send
// window), whatever the hour, date or time zone of the machine running the suite. Only `Date` is
// faked: timers, the queue broker and D1 keep real time. The Worker under test runs in the same
// isolate, so its `Date.now()` reads this clock too; a test moves it with `setClock(...)`.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"], now: TEST_NOW });
});

afterEach(() => {
  vi.useRealTimers();
});
