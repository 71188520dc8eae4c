import { describe, expect, it } from "vitest";
import { alertsOn, applyAt, DAY, HOUR, runWatch } from "../helpers/watch";

const T0 = Date.parse("2026-04-06T09:00:00.000Z");

/** Fresh clinics per test, so other tests' events never count as theirs. */
function clinics(count: number): string[] {
  return Array.from({ length: count }, () => crypto.randomUUID());
}

describe("clinic silence (NOVAMED_SILENCE_ALERT)", () => {
  it("opens per clinic at the threshold, not before, once, and resolves when the clinic sends again", async () => {
    const [quiet, busy, never] = clinics(3) as [string, string, string];
    const settings = { NOVAMED_CLINIC_IDS: [quiet, busy, never].join(",") };
    await applyAt(T0, "invoice:sent", {}, quiet);
    await applyAt(T0, "invoice:sent", {}, busy);
    await applyAt(T0 + 20 * HOUR, "invoice:sent", {}, busy);

    await runWatch(T0 + 24 * HOUR - 1000, settings);
    expect(await alertsOn(quiet)).toEqual([]);

    await runWatch(T0 + 24 * HOUR, settings);
    expect(await alertsOn(quiet)).toMatchObject([
      {
        rule: "novamed_silence",
        target_type: "clinic",
        clinic_id: quiet,
        state: "open",
        since: new Date(T0).toISOString(),
      },
    ]);
    expect(await alertsOn(busy)).toEqual([]);
    // A clinic that never sent anything is new, not silent.
    expect(await alertsOn(never)).toEqual([]);

    await runWatch(T0 + 44 * HOUR, settings);
    expect(await alertsOn(busy)).toMatchObject([{ state: "open", since: new Date(T0 + 20 * HOUR).toISOString() }]);
    expect(await alertsOn(quiet)).toHaveLength(1);

    await applyAt(T0 + 45 * HOUR, "invoice:sent", {}, quiet);
    await runWatch(T0 + 45 * HOUR + 5 * 60_000, settings);
    expect(await alertsOn(quiet)).toMatchObject([{ state: "resolved" }]);
    expect(await alertsOn(busy)).toMatchObject([{ state: "open" }]);
  });

  it("ignores a clinic whose last event is older than the 7 days before the silence window", async () => {
    const [gone] = clinics(1) as [string];
    await applyAt(T0, "invoice:sent", {}, gone);
    await runWatch(T0 + 8 * DAY + HOUR, { NOVAMED_CLINIC_IDS: gone });
    expect(await alertsOn(gone)).toEqual([]);
  });

  it("honours a configured duration and `off`", async () => {
    const [clinic] = clinics(1) as [string];
    await applyAt(T0, "invoice:sent", {}, clinic);
    await runWatch(T0 + 2 * HOUR, { NOVAMED_CLINIC_IDS: clinic, NOVAMED_SILENCE_ALERT: "off" });
    expect(await alertsOn(clinic)).toEqual([]);
    await runWatch(T0 + 2 * HOUR, { NOVAMED_CLINIC_IDS: clinic, NOVAMED_SILENCE_ALERT: "2h" });
    expect(await alertsOn(clinic)).toMatchObject([{ state: "open" }]);
    await runWatch(T0 + 3 * HOUR, { NOVAMED_CLINIC_IDS: clinic, NOVAMED_SILENCE_ALERT: "off" });
    expect(await alertsOn(clinic)).toMatchObject([{ state: "resolved" }]);
  });
});
