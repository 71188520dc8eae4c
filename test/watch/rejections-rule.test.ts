import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { readWatchSettings } from "../../src/config/watch";
import { recordRejection, UNKNOWN_CLINIC } from "../../src/db/rejections";
import { alertsOn, runWatch } from "../helpers/watch";

const MINUTE = 60_000;

/** `count` refusals for `clinicId`, one every `everyMs` from `from`. */
async function reject(clinicId: string, from: number, count: number, everyMs: number, reason = "unauthorized") {
  for (let index = 0; index < count; index += 1) {
    await recordRejection(env.DB, { clinicId, reason, at: new Date(from + index * everyMs) });
  }
}

describe("the webhook_rejections rule (LIFECYCLE_RULES, default 20 in 15 minutes)", () => {
  it("opens an alert on a clinic refused 20 times within 15 minutes, and resolves once they stop", async () => {
    const clinic = crypto.randomUUID();
    const t0 = Date.parse("2032-03-01T10:00:00.000Z");
    // 19 over 9 minutes: below the threshold.
    await reject(clinic, t0, 19, 30_000);
    await runWatch(t0 + 10 * MINUTE);
    expect(await alertsOn(clinic, "webhook_rejections")).toEqual([]);

    await reject(clinic, t0 + 10 * MINUTE, 1, 0, "clinic_key_mismatch");
    await runWatch(t0 + 11 * MINUTE);
    expect(await alertsOn(clinic, "webhook_rejections")).toMatchObject([
      { target_type: "clinic", clinic_id: clinic, state: "open", since: "2032-03-01T10:00:00.000Z" },
    ]);

    // 20 spread over an hour never reach 20 within 15 minutes.
    const slow = crypto.randomUUID();
    await reject(slow, t0, 20, 3 * MINUTE);
    await runWatch(t0 + 60 * MINUTE);
    expect(await alertsOn(slow, "webhook_rejections")).toEqual([]);
    // 16 minutes after the last refusal the window is empty: the clinic's alert resolves.
    await runWatch(t0 + 27 * MINUTE);
    expect(await alertsOn(clinic, "webhook_rejections")).toMatchObject([{ state: "resolved" }]);
  });

  it("watches refusals of no known clinic (a wrong key) too, without a clinic id on the alert", async () => {
    const t0 = Date.parse("2032-04-01T10:00:00.000Z");
    await reject(UNKNOWN_CLINIC, t0, 25, 10_000);
    await runWatch(t0 + 5 * MINUTE);
    expect(await alertsOn(UNKNOWN_CLINIC, "webhook_rejections")).toMatchObject([
      { target_type: "clinic", clinic_id: null, state: "open" },
    ]);
  });

  it("takes its count and window from LIFECYCLE_RULES, and is off with webhook_rejections=off", async () => {
    const clinic = crypto.randomUUID();
    const t0 = Date.parse("2032-05-01T10:00:00.000Z");
    await reject(clinic, t0, 5, 10 * MINUTE);
    await runWatch(t0 + 45 * MINUTE);
    expect(await alertsOn(clinic, "webhook_rejections")).toEqual([]);
    await runWatch(t0 + 45 * MINUTE, { LIFECYCLE_RULES: "webhook_rejections=5/1h" });
    expect(await alertsOn(clinic, "webhook_rejections")).toMatchObject([{ state: "open" }]);
    await runWatch(t0 + 46 * MINUTE, { LIFECYCLE_RULES: "webhook_rejections=off" });
    expect(await alertsOn(clinic, "webhook_rejections")).toMatchObject([{ state: "resolved" }]);
  });

  it.each(["webhook_rejections=many", "webhook_rejections=0/15m", "webhook_rejections=20/soon"])(
    "refuses %s as a malformed LIFECYCLE_RULES",
    (value) => {
      expect(() => readWatchSettings({ ...env, LIFECYCLE_RULES: value } as Env)).toThrow(/LIFECYCLE_RULES/);
    },
  );

  it("defaults to 20 in 15 minutes", () => {
    expect(readWatchSettings(env).rejections).toEqual({ count: 20, windowMs: 15 * MINUTE });
  });
});
