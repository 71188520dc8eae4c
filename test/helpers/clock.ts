import { vi } from "vitest";

/** The suite's default instant: 2026-01-15 (a Thursday) 10:00 in New York, 15:00 UTC. */
export const TEST_NOW = Date.parse("2026-01-15T15:00:00.000Z");

/** Moves the test clock (and so the Worker's `Date.now()`) to an ISO instant or epoch milliseconds. */
export function setClock(at: string | number): number {
  const instant = typeof at === "number" ? at : Date.parse(at);
  if (Number.isNaN(instant)) throw new Error(`setClock: not an instant: ${at}`);
  vi.setSystemTime(instant);
  return instant;
}
