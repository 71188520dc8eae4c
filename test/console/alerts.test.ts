import { describe, expect, it } from "vitest";
import { auditRowsOf } from "../helpers/audit";
import { consoleFetch, signIn } from "../helpers/console";
import { uniqueId } from "../helpers/events";
import { alertsOn, applyAt, HOUR, runWatch } from "../helpers/watch";

/** A refill whose alert is open (stalled 48 hours before `now`'s run). */
async function openAlert(t0: number): Promise<{ refillId: string; alertId: string }> {
  const refillId = uniqueId("ref");
  await applyAt(t0, "refill:requested", { refill_id: refillId });
  await runWatch(t0 + 48 * HOUR);
  const [alert] = await alertsOn(refillId);
  if (!alert) throw new Error("no alert opened");
  return { refillId, alertId: alert.alert_id };
}

describe("console alerts page", () => {
  it("lists open alerts with a link to the target, and acknowledges one through a CSRF-protected form", async () => {
    const { refillId, alertId } = await openAlert(Date.parse("2026-10-05T00:00:00.000Z"));
    const { cookie, csrf } = await signIn();
    const page = await consoleFetch("/console/alerts", { cookie });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`data-alert-id="${alertId}"`);
    expect(html).toContain(`href="/console/refills/${refillId}"`);
    expect(html).toContain(`action="/console/alerts/${alertId}/ack"`);

    const forged = await consoleFetch(`/console/alerts/${alertId}/ack`, { cookie, form: { _csrf: "forged" } });
    expect(forged.status).toBe(403);
    expect((await alertsOn(refillId))[0]?.acknowledged_by).toBeNull();

    const ack = await consoleFetch(`/console/alerts/${alertId}/ack`, { cookie, form: { _csrf: csrf } });
    expect(ack.status).toBe(303);
    expect(ack.headers.get("location")).toBe("/console/alerts?state=open");
    expect((await alertsOn(refillId))[0]?.acknowledged_by).toBe("token:admin");
    // Acknowledged, it leaves the open list for the Acknowledged tab, which is marked as the current one.
    const after = await (await consoleFetch("/console/alerts", { cookie })).text();
    expect(after).not.toContain(`data-alert-id="${alertId}"`);
    expect(after).toMatch(/<a href="\/console\/alerts\?state=open" aria-current="page">Open<\/a>/);
    const acknowledged = await (await consoleFetch("/console/alerts?state=acknowledged", { cookie })).text();
    expect(acknowledged).toContain(`data-alert-id="${alertId}"`);
    expect(acknowledged).toContain("by token:admin");
    expect(acknowledged).toMatch(/aria-current="page">Acknowledged<\/a>/);
    // The forged POST was refused before the route; the acknowledgement itself is audited once.
    expect((await auditRowsOf("alert", String(alertId))).map((row) => [row.action, row.actor, row.outcome])).toEqual([
      ["alert.ack", "token:admin", "success"],
    ]);
  });

  it("shows resolved alerts on their own tab, and 400s an unknown state", async () => {
    const t0 = Date.parse("2026-10-12T00:00:00.000Z");
    const { refillId, alertId } = await openAlert(t0);
    await applyAt(t0 + 49 * HOUR, "refill:approved", { refill_id: refillId });
    await runWatch(t0 + 49 * HOUR);
    const { cookie } = await signIn();
    const open = await (await consoleFetch("/console/alerts", { cookie })).text();
    expect(open).not.toContain(alertId);
    const resolved = await (await consoleFetch("/console/alerts?state=resolved", { cookie })).text();
    expect(resolved).toContain(`data-alert-id="${alertId}"`);
    expect((await consoleFetch("/console/alerts?state=stuck", { cookie })).status).toBe(400);
  });

  it("explains each rule with its setting and what to do, and says whether alert delivery is configured", async () => {
    const { alertId } = await openAlert(Date.parse("2026-10-26T00:00:00.000Z"));
    const { cookie } = await signIn();
    const html = await (await consoleFetch("/console/alerts", { cookie })).text();
    const row = html.slice(html.indexOf(`data-alert-id="${alertId}"`));
    expect(row).toContain("An order or refill stayed in one status longer than its rule allows (LIFECYCLE_RULES");
    expect(row).toContain("What to do: ask NovaMed why it is stuck");
    // The test Worker sets neither ALERT_WEBHOOK_URL nor ALERT_EMAIL_TO.
    expect(html).toMatch(
      /id="alert-delivery" class="notice notice-error">Alert delivery: webhook <strong>not configured<\/strong>/,
    );
  });

  it("sends a signed-out visitor to the login page", async () => {
    const response = await consoleFetch("/console/alerts");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toContain("/console/login");
  });

  it("shows the open count on the overview, linked to the page", async () => {
    await openAlert(Date.parse("2026-10-19T00:00:00.000Z"));
    const { cookie } = await signIn();
    const html = await (await consoleFetch("/console", { cookie })).text();
    const card = /<a id="open-alerts"[^>]*href="\/console\/alerts"[^>]*><strong>(\d+)<\/strong>/.exec(html);
    expect(Number(card?.[1])).toBeGreaterThanOrEqual(1);
  });
});
