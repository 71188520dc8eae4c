import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { insertAuditEntry } from "../../src/db/audit";
import worker from "../../src/index";
import { CRONS } from "../../src/scheduled/dispatch";
import { archivedLines } from "../archive/helpers";
import { auditRowsOf } from "../helpers/audit";
import { wrapDatabase } from "../helpers/d1";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";
import { alertsOn, DAY, runWatch } from "../helpers/watch";

// One bad setting stops only its own job: the daily jobs (payload purge, audit purge, compaction)
// each read their own variable and run whatever the others' state.
const now = Date.parse("2032-06-30T03:17:00.000Z");

async function runDailyJobs(overrides: Record<string, string>) {
  const controller = createScheduledController({ scheduledTime: new Date(now), cron: CRONS.retention });
  await worker.scheduled(controller, { ...env, ...overrides } as Env);
}

/** A processed event received `daysAgo` days before `now`, with its payload. */
async function storedEvent(daysAgo: number) {
  const event = makeEvent("order:created", { data: { order_id: uniqueId("ord") } });
  await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
  const at = new Date(now - daysAgo * DAY).toISOString();
  await env.DB.prepare(`UPDATE events SET received_at = ?2, processed_at = ?2 WHERE event_id = ?1`)
    .bind(event.event_id, at)
    .run();
  return event.event_id;
}

/** A target's audit rows wherever they are kept: in D1, or moved to the R2 archive (older than a year). */
async function keptAuditRowsOf(target: string) {
  const { lines } = await archivedLines("audit/");
  const archived = lines.filter((line) => line.table === "audit" && line.row.target_id === target);
  return [...(await auditRowsOf("patient", target)), ...archived];
}

async function auditRowAt(daysAgo: number) {
  const target = uniqueId("pat");
  await insertAuditEntry(env.DB, {
    at: new Date(now - daysAgo * DAY).toISOString(),
    actor: "token:admin",
    action: "patient.read",
    target_type: "patient",
    target_id: target,
    request_id: null,
    outcome: "success",
    status: 200,
    detail: null,
  });
  return target;
}

/** After a watch run with `settings`, the `config_problem` alert about `variable` is open. */
async function expectConfigProblemRaised(settings: Record<string, string>, variable: string) {
  await runWatch(now, settings);
  const [alert] = await alertsOn(variable, "config_problem");
  expect(alert?.state).toBe("open");
}

describe("daily jobs with one malformed setting", () => {
  it("EVENT_ROW_RETENTION_DAYS=14d stops the compaction alone: payloads and audit rows are still purged, and the watch raises config_problem", async () => {
    const settings = { EVENT_ROW_RETENTION_DAYS: "14d", PAYLOAD_RETENTION_DAYS: "30" };
    const eventId = await storedEvent(40);
    const auditTarget = await auditRowAt(2191);

    await expect(runDailyJobs(settings)).resolves.toBeUndefined();

    // Still there (no compaction), without its payload (purged).
    expect((await eventRow(eventId)).payload).toBeNull();
    expect(await keptAuditRowsOf(auditTarget)).toEqual([]);

    await expectConfigProblemRaised(settings, "EVENT_ROW_RETENTION_DAYS");
  });

  it("PAYLOAD_RETENTION_DAYS=30d stops the payload purge alone: audit rows are purged and final rows compacted", async () => {
    const settings = { PAYLOAD_RETENTION_DAYS: "30d", EVENT_ROW_RETENTION_DAYS: "14" };
    const compacted = await storedEvent(40);
    const auditTarget = await auditRowAt(2191);

    await expect(runDailyJobs(settings)).resolves.toBeUndefined();

    await expect(eventRow(compacted)).rejects.toThrow("no event row");
    expect(await keptAuditRowsOf(auditTarget)).toEqual([]);

    await expectConfigProblemRaised(settings, "PAYLOAD_RETENTION_DAYS");
  });

  it("AUDIT_RETENTION_DAYS=6y stops the audit purge alone", async () => {
    const settings = { AUDIT_RETENTION_DAYS: "6y", PAYLOAD_RETENTION_DAYS: "30" };
    const eventId = await storedEvent(40);
    const auditTarget = await auditRowAt(4000);

    await expect(runDailyJobs(settings)).resolves.toBeUndefined();

    expect((await eventRow(eventId)).payload).toBeNull();
    expect(await keptAuditRowsOf(auditTarget)).toHaveLength(1);
  });

  it("CHANGE_FEED_DAYS=7d stops the change feed's purge alone: payloads and audit rows are still purged", async () => {
    const settings = { CHANGE_FEED_DAYS: "7d", PAYLOAD_RETENTION_DAYS: "30" };
    const eventId = await storedEvent(40);
    const auditTarget = await auditRowAt(2191);
    await env.DB.prepare(`UPDATE changes SET occurred_at = ?1`)
      .bind(new Date(now - 40 * DAY).toISOString())
      .run();
    const changesBefore = await env.DB.prepare(`SELECT COUNT(*) AS n FROM changes`).first<{ n: number }>();
    expect(changesBefore?.n).toBeGreaterThan(1);

    await expect(runDailyJobs(settings)).resolves.toBeUndefined();

    expect((await eventRow(eventId)).payload).toBeNull();
    expect(await keptAuditRowsOf(auditTarget)).toEqual([]);
    const changesAfter = await env.DB.prepare(`SELECT COUNT(*) AS n FROM changes`).first<{ n: number }>();
    expect(changesAfter?.n).toBe(changesBefore?.n);
    await expectConfigProblemRaised(settings, "CHANGE_FEED_DAYS");
  });

  it("ARCHIVE_INDEX_DAYS=1y stops the archive alone: nothing moves to R2, payloads and audit rows are still purged", async () => {
    const settings = { ARCHIVE_INDEX_DAYS: "1y", PAYLOAD_RETENTION_DAYS: "30" };
    const oldEnough = await storedEvent(120);
    const auditTarget = await auditRowAt(2191);

    await expect(runDailyJobs(settings)).resolves.toBeUndefined();

    // Finished and older than ARCHIVE_AFTER_DAYS (90), yet still in D1: the archive did not run.
    expect(await eventRow(oldEnough)).toMatchObject({ event_id: oldEnough, payload: null });
    expect(await keptAuditRowsOf(auditTarget)).toEqual([]);
    await expectConfigProblemRaised(settings, "ARCHIVE_INDEX_DAYS");
  });
});

describe("5-minute jobs with one failing", () => {
  it("a failing stuck-event sweep still lets the notification sweep and the watch run, then fails the invocation", async () => {
    // A D1 binding whose stuck-event sweep statement fails (as on a D1 error), everything else intact.
    const db = wrapDatabase(env.DB, {
      prepare: (sql, prepare) => {
        if (sql.startsWith("UPDATE events SET status = 'queued'")) throw new Error("D1_ERROR: sweep broken");
        return prepare(sql);
      },
    });
    const controller = createScheduledController({ scheduledTime: new Date(now), cron: CRONS.notificationSweep });
    await expect(
      worker.scheduled(controller, { ...env, DB: db, NOVAMED_SILENCE_ALERT: "soon" } as Env),
    ).rejects.toThrow("sweep broken");
    const [alert] = await alertsOn("NOVAMED_SILENCE_ALERT", "config_problem");
    expect(alert?.state).toBe("open");
  });
});
