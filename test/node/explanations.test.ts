import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { alertRuleTableMarkdown, explainAlertRule } from "../../src/notify/alert-explanations.ts";
import { explainNotification, isSendable, reasonTableMarkdown } from "../../src/notify/explanations.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const START = "<!-- reasons:start (generated from src/notify/explanations.ts; test/node/explanations.test.ts) -->";
const END = "<!-- reasons:end -->";

/** A markdown table's cells, trimmed (Biome pads the tables in docs; the words must match, not the padding). */
function tableCells(markdown: string): string[][] {
  return markdown
    .trim()
    .split("\n")
    .map((line) =>
      line
        .trim()
        .replace(/^\||\|$/g, "")
        .split(/(?<!\\)\|/)
        .map((cell) => (/^\s*:?-+:?\s*$/.test(cell) ? "---" : cell.trim())),
    );
}

describe("status explanations: one source for the console and docs/operations.md", () => {
  it("docs/operations.md carries exactly the table the module renders", () => {
    const doc = readFileSync(path.join(root, "docs/operations.md"), "utf8");
    const start = doc.indexOf(START);
    const end = doc.indexOf(END);
    expect(start).toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    expect(tableCells(doc.slice(start + START.length, end))).toEqual(
      tableCells(`${reasonTableMarkdown()}\n\n${alertRuleTableMarkdown()}`),
    );
  });

  it("names the cap, its value and its setting for a daily-cap suppression, and lets it be sent", () => {
    const explained = explainNotification(
      { status: "suppressed", error: "daily_cap", channel: "sms" },
      { dailyCaps: { sms: 3, email: 5 } },
    );
    expect(explained).toMatchObject({
      sentence: "daily SMS limit of 3 reached for this patient",
      setting: "SMS_DAILY_CAP",
      sendable: true,
    });
    expect(explainNotification({ status: "suppressed", error: "daily_cap", channel: "email" })?.setting).toBe(
      "EMAIL_DAILY_CAP",
    );
  });

  it("names the variable of a held notification and explains text-stored reasons", () => {
    const held = explainNotification({ status: "held", error: "TWILIO_AUTH_TOKEN is not set", channel: "sms" });
    expect(held).toMatchObject({ setting: "TWILIO_AUTH_TOKEN", sendable: true });
    expect(held?.sentence).toContain("SMS provider");
    expect(
      explainNotification({ status: "suppressed", error: "opted out: 21610", channel: "sms" })?.sentence,
    ).toContain("opted out");
    expect(
      explainNotification({ status: "superseded", error: "entity now delivered", channel: "sms" })?.sentence,
    ).toContain("(delivered)");
    expect(explainNotification({ status: "sent", error: null, channel: "sms" })).toBeNull();
  });

  it("lets only held and cap-suppressed notifications be sent by hand", () => {
    expect(isSendable({ status: "held", error: "SMS_PROVIDER is not set" })).toBe(true);
    expect(isSendable({ status: "suppressed", error: "daily_cap" })).toBe(true);
    expect(isSendable({ status: "suppressed", error: "opted out by STOP" })).toBe(false);
    expect(isSendable({ status: "suppressed", error: "sms not opted in" })).toBe(false);
    expect(isSendable({ status: "failed", error: "retries exhausted" })).toBe(false);
  });

  it("explains every alert rule the watch opens", () => {
    for (const rule of [
      "order:created",
      "refill:requested",
      "order:shipped",
      "novamed_silence",
      "webhook_rejections",
      "event_dead",
      "notification_held",
      "config_problem",
    ]) {
      expect(explainAlertRule(rule).sentence, rule).not.toContain("rule fired");
    }
    expect(explainAlertRule("order:created").setting).toContain("LIFECYCLE_RULES");
  });
});

describe("the contact refusals of issue 23 are explained, not unknown", () => {
  it.each(["email_bounced", "email_complained", "email_unsubscribed", "phone_unreachable"])("%s", (code) => {
    const explained = explainNotification({ status: "suppressed", error: code, channel: null });
    expect(explained?.sentence).not.toContain("no explanation is known");
    expect(explained?.sendable).toBe(false);
  });
});
