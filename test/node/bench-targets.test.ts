import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { evaluateTargets, type Results } from "../../bench/report.ts";

/** The committed latest.json: a whole run's results, every part present (only its shape is relied on). */
const latest = JSON.parse(readFileSync(new URL("../../bench/results/latest.json", import.meta.url), "utf8")) as Results;

const faultsLine = (results: Omit<Results, "targets">) =>
  evaluateTargets(results).find((target) => target.name === "faults: lost 0, applied twice 0");

describe("bench: the faults pass's target line (bench/report.ts)", () => {
  it("says what a message counted twice was: an identical twin recorded, an id recorded by two rows", () => {
    // The shape of a whole run's faults part, its outcome set here (the committed run's may change).
    const passed = {
      ...latest.faults!,
      lost: 0,
      double_applied: 0,
      drained: true,
      retried_events_not_processed: 0,
      lifecycles_wrong_state: 0,
      notifications_sent_more_than_once: 0,
    };
    const clean = faultsLine({ ...latest, faults: passed });
    expect(clean).toMatchObject({ met: true });
    expect(clean?.value).not.toContain("no row records");
    const faults = {
      ...passed,
      double_applied: 1,
      notifications_sent_more_than_once: 1,
      providers: { ...latest.faults!.providers, unrecorded_with_recorded_twin: 1, provider_ids_recorded_twice: 1 },
    };
    const missed = faultsLine({ ...latest, faults });
    expect(missed).toMatchObject({ met: false });
    expect(missed?.value).toContain(
      "accepted messages no row records: 1 (with a recorded identical twin: 1; ids recorded by two rows: 1)",
    );
  });
});
