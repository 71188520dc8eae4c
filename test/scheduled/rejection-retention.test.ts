import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { REJECTION_RETENTION_DAYS, recordRejection } from "../../src/db/rejections";
import worker from "../../src/index";
import { CRONS } from "../../src/scheduled/dispatch";
import { TEST_NOW } from "../helpers/clock";
import { uniqueId } from "../helpers/events";

const DAY = 86_400_000;

async function countOf(clinicId: string) {
  const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM webhook_rejections WHERE clinic_id = ?1`)
    .bind(clinicId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("rejection counters are kept for a bounded time", () => {
  it("the daily run deletes counters older than REJECTION_RETENTION_DAYS and keeps newer ones", async () => {
    const clinicId = uniqueId("clinic");
    const old = new Date(TEST_NOW - (REJECTION_RETENTION_DAYS + 1) * DAY);
    const recent = new Date(TEST_NOW - (REJECTION_RETENTION_DAYS - 1) * DAY);
    await recordRejection(env.DB, { clinicId, reason: "unauthorized", at: old });
    await recordRejection(env.DB, { clinicId, reason: "unauthorized", at: recent });
    expect(await countOf(clinicId)).toBe(2);

    const controller = createScheduledController({ scheduledTime: new Date(TEST_NOW), cron: CRONS.retention });
    await worker.scheduled(controller, env);

    const { results } = await env.DB.prepare(`SELECT minute FROM webhook_rejections WHERE clinic_id = ?1`)
      .bind(clinicId)
      .all<{ minute: string }>();
    expect(results.map((row) => row.minute)).toEqual([recent.toISOString().slice(0, 16)]);
  });
});
