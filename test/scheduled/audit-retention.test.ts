import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { insertAuditEntry } from "../../src/db/audit";
import worker from "../../src/index";
import { CRONS } from "../../src/scheduled/dispatch";
import { archivedLines } from "../archive/helpers";
import { auditRowsOf } from "../helpers/audit";
import { uniqueId } from "../helpers/events";

const DAY = 86_400_000;
const now = Date.parse("2032-06-30T03:17:00.000Z");

async function auditAt(targetId: string, at: number) {
  await insertAuditEntry(env.DB, {
    at: new Date(at).toISOString(),
    actor: "token:admin",
    action: "patient.read",
    target_type: "patient",
    target_id: targetId,
    request_id: null,
    outcome: "success",
    status: 200,
    detail: null,
  });
}

/** Audit rows of a target moved to the R2 archive (rows older than a year go there, src/archive/audit.ts). */
async function archivedAuditRowsOf(targetId: string) {
  const { lines } = await archivedLines("audit/");
  return lines.filter((line) => line.table === "audit" && line.row.target_id === targetId);
}

async function runRetention(overrides: Record<string, string> = {}) {
  const controller = createScheduledController({ scheduledTime: new Date(now), cron: CRONS.retention });
  await worker.scheduled(controller, { ...env, ...overrides } as Env);
}

describe("audit retention", () => {
  it("keeps audit rows for AUDIT_RETENTION_DAYS (default 2190 days), far beyond payload retention", async () => {
    const old = uniqueId("pat");
    const kept = uniqueId("pat");
    await auditAt(old, now - 2191 * DAY);
    await auditAt(kept, now - 2189 * DAY);
    await runRetention();
    expect(await auditRowsOf("patient", old)).toEqual([]);
    expect(await archivedAuditRowsOf(old)).toEqual([]);
    // Older than a year: kept, in the R2 archive rather than D1.
    expect(await auditRowsOf("patient", kept)).toEqual([]);
    expect(await archivedAuditRowsOf(kept)).toHaveLength(1);
  });

  it("honours a shorter AUDIT_RETENTION_DAYS, and 0 keeps every row", async () => {
    const target = uniqueId("pat");
    await auditAt(target, now - 400 * DAY);
    await runRetention({ AUDIT_RETENTION_DAYS: "0", PAYLOAD_RETENTION_DAYS: "1" });
    expect(await archivedAuditRowsOf(target)).toHaveLength(1);
    await runRetention({ AUDIT_RETENTION_DAYS: "365" });
    expect(await auditRowsOf("patient", target)).toEqual([]);
    expect(await archivedAuditRowsOf(target)).toEqual([]);
  });
});
