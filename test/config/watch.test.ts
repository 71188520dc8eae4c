import { describe, expect, it } from "vitest";
import { configProblems } from "../../src/config/health";
import { parseDuration, readWatchSettings } from "../../src/config/watch";
import { configError, envWith } from "../helpers/config";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe("watch settings", () => {
  it("default to the issue's thresholds, a 24h silence and no delivery channel", () => {
    const settings = readWatchSettings(envWith({}));
    expect(Object.fromEntries(settings.lifecycle)).toEqual({
      "medication_request:approved": { afterMs: 24 * HOUR, fromEta: false },
      "order:created": { afterMs: 72 * HOUR, fromEta: false },
      "order:processing": { afterMs: 72 * HOUR, fromEta: false },
      "order:shipped": { afterMs: 2 * DAY, fromEta: true },
      "refill:requested": { afterMs: 48 * HOUR, fromEta: false },
    });
    expect(settings).toMatchObject({ silenceMs: 24 * HOUR, webhookUrl: null, emailTo: [], publicBaseUrl: null });
  });

  it("parse durations in s, m, h and d, and nothing else", () => {
    expect([parseDuration("30s"), parseDuration("15m"), parseDuration("24h"), parseDuration("2d")]).toEqual([
      30_000,
      15 * 60_000,
      24 * HOUR,
      2 * DAY,
    ]);
    for (const bad of ["", "0h", "1w", "h", "1.5h", "-1h", "24"]) expect(parseDuration(bad)).toBeNull();
  });

  it("override only the states LIFECYCLE_RULES names, with durations, off and eta+", () => {
    const settings = readWatchSettings(
      envWith({
        LIFECYCLE_RULES: " order:created=30s , refill:requested=off,order:shipped=eta+15m ",
        NOVAMED_SILENCE_ALERT: "off",
        ALERT_WEBHOOK_URL: "http://127.0.0.1:9999/hook",
        ALERT_EMAIL_TO: "ops@clinic.example, lead@clinic.example",
        PUBLIC_BASE_URL: "https://receiver.example/",
      }),
    );
    expect(settings.lifecycle.get("order:created")).toEqual({ afterMs: 30_000, fromEta: false });
    expect(settings.lifecycle.get("refill:requested")).toBeNull();
    expect(settings.lifecycle.get("order:shipped")).toEqual({ afterMs: 15 * 60_000, fromEta: true });
    expect(settings.lifecycle.get("order:processing")).toEqual({ afterMs: 72 * HOUR, fromEta: false });
    expect(settings).toMatchObject({
      silenceMs: null,
      webhookUrl: "http://127.0.0.1:9999/hook",
      emailTo: ["ops@clinic.example", "lead@clinic.example"],
      publicBaseUrl: "https://receiver.example",
    });
  });

  it.each([
    ["LIFECYCLE_RULES", "order:lost=1h"],
    ["LIFECYCLE_RULES", "order:created=soon"],
    ["LIFECYCLE_RULES", "refill:requested=eta+2d"],
    ["NOVAMED_SILENCE_ALERT", "1 day"],
    ["ALERT_WEBHOOK_URL", "http://hooks.example/secret-path"],
    ["ALERT_WEBHOOK_URL", "not a url"],
    ["ALERT_EMAIL_TO", "ops@clinic.example,not-an-address"],
  ])("reject a malformed %s by name, never echoing the value", (variable, value) => {
    const error = configError(() => readWatchSettings(envWith({ [variable]: value })));
    expect(error.variable).toBe(variable);
    expect(error.message).not.toContain(value);
  });
});

describe("configProblems", () => {
  it("is empty for the test configuration", () => {
    expect(configProblems(envWith({}))).toEqual([]);
  });

  it("lists one problem per failing variable across the readers, by name and never by value", () => {
    const problems = configProblems(
      envWith({
        NOVAMED_CLINIC_IDS: "not-a-uuid-secretish",
        ALERT_WEBHOOK_URL: "ftp://secret.example/hook",
        PAYLOAD_RETENTION_DAYS: "-3",
      }),
    );
    expect(problems.map((problem) => problem.variable).sort()).toEqual([
      "ALERT_WEBHOOK_URL",
      "NOVAMED_CLINIC_IDS",
      "PAYLOAD_RETENTION_DAYS",
    ]);
    const text = JSON.stringify(problems);
    for (const value of ["not-a-uuid-secretish", "secret.example", "-3"]) expect(text).not.toContain(value);
  });
});
