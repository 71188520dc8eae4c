import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { recordRejection, rejectionSummary } from "../../src/db/rejections";
import { ALL_CLINICS } from "../../src/db/scope";
import { TEST_NOW } from "../helpers/clock";

describe("the overview's rejection card is scoped to the identity's clinics", () => {
  it("a viewer of clinic A never sees clinic B's (or unknown) rejections; an all-clinics identity sees every one", async () => {
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    const at = new Date(TEST_NOW - 60_000);
    const since = new Date(TEST_NOW - 3_600_000);
    await recordRejection(env.DB, { clinicId: b, reason: "clinic_key_mismatch", at });
    await recordRejection(env.DB, { clinicId: "unknown", reason: "unauthorized", at });

    const viewerOfA = await rejectionSummary(env.DB, { role: "viewer", clinics: [a] }, since);
    expect(viewerOfA).toEqual({ count: 0, last_reason: null, last_at: null });

    const viewerOfB = await rejectionSummary(env.DB, { role: "viewer", clinics: [b] }, since);
    expect(viewerOfB).toMatchObject({ count: 1, last_reason: "clinic_key_mismatch" });

    const everyone = await rejectionSummary(env.DB, ALL_CLINICS, since);
    expect(everyone.count).toBeGreaterThanOrEqual(2);
  });
});
