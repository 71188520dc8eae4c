import { describe, expect, it } from "vitest";
import { adminFetch, adminJson } from "../helpers/admin";
import { uniqueId } from "../helpers/events";
import { alertsOn, applyAt, HOUR, runWatch } from "../helpers/watch";

interface AlertList {
  alerts: Record<string, unknown>[];
  next_cursor: string | null;
  channels: Record<string, string>;
}

/** Three refills stalled at `t0` (opened at +48h, in one run); the first is then approved (resolved). */
async function threeAlerts(t0: number) {
  const ids = [uniqueId("ref"), uniqueId("ref"), uniqueId("ref")];
  for (const id of ids) await applyAt(t0, "refill:requested", { refill_id: id });
  await runWatch(t0 + 48 * HOUR);
  await applyAt(t0 + 49 * HOUR, "refill:approved", { refill_id: ids[0] });
  await runWatch(t0 + 49 * HOUR);
  return ids;
}

describe("GET /admin/alerts", () => {
  it("lists alerts in the contract's shape, filtered by state and rule, newest first", async () => {
    const [resolvedId, openId] = await threeAlerts(Date.parse("2026-09-01T00:00:00.000Z"));
    const open = await adminJson<AlertList>("/alerts?state=open&rule=refill:requested&limit=100");
    expect(open.status).toBe(200);
    const row = open.body.alerts.find((alert) => alert.target_id === openId);
    expect(row).toEqual({
      alert_id: expect.stringMatching(/^alt_[0-9a-f]{24}$/),
      rule: "refill:requested",
      target_type: "refill",
      target_id: openId,
      clinic_id: "550e8400-e29b-41d4-a716-446655440000",
      state: "open",
      since: "2026-09-01T00:00:00.000Z",
      opened_at: "2026-09-03T00:00:00.000Z",
      resolved_at: null,
      acknowledged_by: null,
      acknowledged_at: null,
      last_notified_at: null,
    });
    expect(open.body.alerts.every((alert) => alert.state === "open" && alert.rule === "refill:requested")).toBe(true);
    expect(open.body.alerts.some((alert) => alert.target_id === resolvedId)).toBe(false);
    expect(open.body.channels).toEqual({ webhook: "not_configured", email: "not_configured" });

    const resolved = await adminJson<AlertList>("/alerts?state=resolved&limit=100");
    expect(resolved.body.alerts.find((alert) => alert.target_id === resolvedId)).toMatchObject({
      state: "resolved",
      resolved_at: "2026-09-03T01:00:00.000Z",
    });
  });

  it("pages with next_cursor until the list ends", async () => {
    await threeAlerts(Date.parse("2026-09-08T00:00:00.000Z"));
    const seen: string[] = [];
    let cursor: string | null = "";
    while (cursor !== null) {
      const page: { body: AlertList } = await adminJson<AlertList>(
        `/alerts?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      expect(page.body.alerts.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.alerts.map((alert) => String(alert.alert_id)));
      cursor = page.body.next_cursor;
    }
    const all = await adminJson<AlertList>("/alerts?limit=100");
    expect(seen).toEqual(all.body.alerts.map((alert) => alert.alert_id));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("rejects invalid filters with 400 invalid_query, and requires the admin token", async () => {
    for (const query of ["state=stuck", "limit=0", "limit=101", "cursor=not-a-cursor"]) {
      const response = await adminJson<{ error: { code: string } }>(`/alerts?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.body.error.code).toBe("invalid_query");
    }
    expect((await adminFetch("/alerts", {}, null)).status).toBe(401);
  });
});

describe("POST /admin/alerts/:alert_id/ack", () => {
  it("records the admin actor once; 404 for an unknown alert", async () => {
    const [, id] = await threeAlerts(Date.parse("2026-09-15T00:00:00.000Z"));
    const [alert] = await alertsOn(id ?? "");
    const ack = await adminJson(`/alerts/${alert?.alert_id}/ack`, { method: "POST" });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ alert_id: alert?.alert_id, acknowledged_by: "token:admin", state: "open" });
    const again = await adminJson(`/alerts/${alert?.alert_id}/ack`, { method: "POST" });
    expect(again.body.acknowledged_at).toBe(ack.body.acknowledged_at);

    const missing = await adminJson<{ error: { code: string } }>("/alerts/alt_missing/ack", { method: "POST" });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("not_found");
  });
});
