import { env } from "cloudflare:workers";
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { ADMIN_TOKEN, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { mockProviders, PROVIDER_ENV } from "../helpers/notifications";
import { captureConsole } from "../helpers/phi-canary";
import { alertsOn, applyAt, DAY, HOUR, runWatch } from "../helpers/watch";

const server = useMockNetwork();

const WEBHOOK_URL = "https://hooks.slack.test/services/T0000/B0000/webhook-secret";
const WEBHOOK_ENV = { ALERT_WEBHOOK_URL: WEBHOOK_URL, PUBLIC_BASE_URL: "https://receiver.example" };

interface WebhookCall {
  contentType: string | null;
  body: Record<string, unknown>;
  answered: number;
}

/**
 * A Slack-compatible incoming webhook: answers each POST with the next status of `statuses` (then 200),
 * `ok` as Slack does, and records the calls.
 */
function mockWebhook(statuses: number[] = []) {
  const calls: WebhookCall[] = [];
  server.use(
    http.post(WEBHOOK_URL, async ({ request }) => {
      const answered = statuses.shift() ?? 200;
      calls.push({
        contentType: request.headers.get("content-type"),
        body: (await request.json()) as Record<string, unknown>,
        answered,
      });
      return answered === 200
        ? HttpResponse.text("ok")
        : HttpResponse.text("service_unavailable", { status: answered });
    }),
  );
  return { calls, naming: (id: string) => calls.filter((call) => String(call.body.text).includes(id)) };
}

/** A refill left requested at `at`: its alert opens 48 hours later. */
async function stalledRefill(at: number): Promise<string> {
  const id = uniqueId("ref");
  await applyAt(at, "refill:requested", { refill_id: id });
  return id;
}

describe("alert deliveries through ALERT_WEBHOOK_URL", () => {
  it("posts Slack's {text} shape once per alert: rule, target id, age and console link", async () => {
    const webhook = mockWebhook();
    const t0 = Date.parse("2026-05-04T00:00:00.000Z");
    const id = await stalledRefill(t0);
    await runWatch(t0 + 48 * HOUR, WEBHOOK_ENV);

    const [call, ...more] = webhook.naming(id);
    expect(more).toEqual([]);
    expect(call?.contentType).toBe("application/json");
    expect(Object.keys(call?.body ?? {})).toEqual(["text"]);
    const text = String(call?.body.text);
    expect(text).toMatch(/^NovaMed watch: \d+ new alerts?\n/);
    const line = text.split("\n").find((candidate) => candidate.includes(id));
    expect(line).toBe(
      `• refill:requested: refill ${id}, requested, neither approved nor denied, for 2 d https://receiver.example/console/refills/${id}`,
    );
    const [alert] = await alertsOn(id);
    expect(alert?.last_notified_at).toBe(new Date(t0 + 48 * HOUR).toISOString());

    await runWatch(t0 + 48 * HOUR + 5 * 60_000, WEBHOOK_ENV);
    await runWatch(t0 + 60 * HOUR, WEBHOOK_ENV);
    expect(webhook.naming(id)).toHaveLength(1);
  });

  it("retries a failed delivery on the next run and delivers it exactly once", async () => {
    const webhook = mockWebhook([503]);
    const t0 = Date.parse("2026-05-11T00:00:00.000Z");
    const id = await stalledRefill(t0);
    await runWatch(t0 + 48 * HOUR, WEBHOOK_ENV);
    expect(webhook.naming(id).map((call) => call.answered)).toEqual([503]);
    const [alert] = await alertsOn(id);
    expect(alert?.last_notified_at).toBeNull();
    const pending = await env.DB.prepare(`SELECT * FROM alert_deliveries WHERE alert_id = ?1`)
      .bind(alert?.alert_id)
      .first();
    expect(pending).toMatchObject({
      channel: "webhook",
      attempts: 1,
      delivered_at: null,
      last_error: "webhook answered 503",
    });

    await runWatch(t0 + 48 * HOUR + 5 * 60_000, WEBHOOK_ENV);
    await runWatch(t0 + 48 * HOUR + 10 * 60_000, WEBHOOK_ENV);
    expect(webhook.naming(id).map((call) => call.answered)).toEqual([503, 200]);
    expect((await alertsOn(id))[0]?.last_notified_at).toBe(new Date(t0 + 48 * HOUR + 5 * 60_000).toISOString());
  });

  it("sends the daily digest of open alerts once a day from 13:00 UTC, retrying a failed one", async () => {
    const t0 = Date.parse("2026-06-01T00:00:00.000Z");
    const id = await stalledRefill(t0);
    const webhook = mockWebhook();
    await runWatch(t0 + 48 * HOUR, WEBHOOK_ENV);
    const digests = () => webhook.naming(id).filter((call) => String(call.body.text).includes("daily digest"));

    const day = Date.parse("2026-06-03T00:00:00.000Z");
    await runWatch(day + 12 * HOUR + 55 * 60_000, WEBHOOK_ENV);
    expect(digests()).toEqual([]);
    await runWatch(day + 13 * HOUR, WEBHOOK_ENV);
    const [digest] = digests();
    expect(String(digest?.body.text)).toMatch(/^NovaMed watch: daily digest, \d+ open alerts?\n/);
    expect(String(digest?.body.text)).toContain(`refill ${id}, requested, neither approved nor denied, for 2 d 13 h`);
    await runWatch(day + 13 * HOUR + 5 * 60_000, WEBHOOK_ENV);
    await runWatch(day + 20 * HOUR, WEBHOOK_ENV);
    expect(digests()).toHaveLength(1);

    // The next day's digest fails once, then goes out with the next run, and only once.
    const failing = mockWebhook([500]);
    await runWatch(day + DAY + 13 * HOUR, WEBHOOK_ENV);
    await runWatch(day + DAY + 13 * HOUR + 5 * 60_000, WEBHOOK_ENV);
    await runWatch(day + DAY + 13 * HOUR + 10 * 60_000, WEBHOOK_ENV);
    expect(
      failing
        .naming(id)
        .filter((call) => String(call.body.text).includes("daily digest"))
        .map((call) => call.answered),
    ).toEqual([500, 200]);
  });
});

describe("alert deliveries through ALERT_EMAIL_TO", () => {
  it("emails each address through the email provider, once, with an idempotency key per address", async () => {
    const providers = mockProviders(server);
    const t0 = Date.parse("2026-07-06T00:00:00.000Z");
    const id = await stalledRefill(t0);
    const emailEnv = { ...PROVIDER_ENV, ALERT_EMAIL_TO: "ops@clinic.example, lead@clinic.example" };
    await runWatch(t0 + 48 * HOUR, emailEnv);
    await runWatch(t0 + 48 * HOUR + 5 * 60_000, emailEnv);

    const naming = providers.emails.filter((email) => email.body.text.includes(id));
    expect(naming.map((email) => email.body.to)).toEqual([["ops@clinic.example"], ["lead@clinic.example"]]);
    expect(naming.every((email) => /^alert-[0-9a-f]{40}$/.test(email.key ?? ""))).toBe(true);
    expect(new Set(naming.map((email) => email.key)).size).toBe(2);
    expect(naming[0]?.body.subject).toMatch(/^NovaMed watch: \d+ new alerts?$/);
    expect(naming[0]?.body.text).toContain(`https://receiver.test/console/refills/${id}`);
  });

  it("says so when ALERT_EMAIL_TO is set without an email provider, and keeps the alert untold", async () => {
    const t0 = Date.parse("2026-07-13T00:00:00.000Z");
    const id = await stalledRefill(t0);
    const capture = captureConsole();
    await runWatch(t0 + 48 * HOUR, { ALERT_EMAIL_TO: "ops@clinic.example" });
    capture.stop();
    expect(capture.output()).toContain("alert email not sent");
    const [alert] = await alertsOn(id);
    expect(alert).toMatchObject({ state: "open", last_notified_at: null });

    const response = await worker.fetch(
      new Request("https://receiver.test/admin/alerts", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
      { ...env, ALERT_EMAIL_TO: "ops@clinic.example" } as Env,
    );
    expect(((await response.json()) as { channels: unknown }).channels).toEqual({
      webhook: "not_configured",
      email: "email_provider_not_configured",
    });
  });
});

describe("alert texts carry no markup from payload ids", () => {
  it("restricts ids to [A-Za-z0-9._:-] and escapes & < > for Slack and email alike", async () => {
    const webhook = mockWebhook();
    const providers = mockProviders(server);
    const t0 = Date.parse("2026-07-20T00:00:00.000Z");
    const base = uniqueId("ref");
    const hostile = `${base}<!channel> <https://evil.example|Pay here> & <b>x</b>`;
    await applyAt(t0, "refill:requested", { refill_id: hostile });
    await runWatch(t0 + 48 * HOUR, { ...PROVIDER_ENV, ...WEBHOOK_ENV, ALERT_EMAIL_TO: "ops@clinic.example" });

    const shown = `${base}__channel___https:__evil.example_Pay_here_____b_x__b_`;
    const [call] = webhook.naming(base);
    const text = String(call?.body.text);
    expect(text).toContain(`refill ${shown}, requested`);
    expect(text).not.toMatch(/[<>]/);
    expect(text).not.toContain("<!channel>");
    // The console link keeps the real id, percent-encoded: nothing Slack reads as markup.
    expect(text).toContain(`/console/refills/${encodeURIComponent(hostile)}`);

    const [email] = providers.emails.filter((candidate) => candidate.body.text.includes(base));
    expect(email?.body.text).toContain(`refill ${shown}, requested`);
    expect(email?.body.text).not.toMatch(/[<>&]/);
    expect(email?.body.html).not.toContain("<!channel>");
    expect(email?.body.html).not.toContain("<b>");
  });

  it("escapes & < > as Slack documents, once", async () => {
    const { slackEscape } = await import("../../src/watch/alert-text");
    expect(slackEscape("a & b <!here> c > d")).toBe("a &amp; b &lt;!here&gt; c &gt; d");
  });
});
