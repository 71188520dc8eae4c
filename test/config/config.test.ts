import { describe, expect, it } from "vitest";
import { readAdminIdentity } from "../../src/config/admin";
import { readNotificationSettings, readTwilioWebhookSettings } from "../../src/config/notifications";
import { readEmailProvider, readSmsProvider } from "../../src/config/providers";
import {
  readAuditRetentionDays,
  readChangeFeedDays,
  readEventRowRetentionDays,
  readPayloadRetentionDays,
} from "../../src/config/retention";
import { readWebhookConfig } from "../../src/config/webhook";
import { configError, envWith } from "../helpers/config";

describe("the declared variables left empty", () => {
  it("read as the defaults, each kept once in src/config", () => {
    const settings = readNotificationSettings(envWith({}));
    expect(settings).toMatchObject({
      clinicName: "Your Clinic",
      clinicPhone: null,
      clinicTimezone: "America/New_York",
      smsWindow: { start: 8 * 60, end: 21 * 60 },
      dailyCaps: { sms: 3, email: 5 },
    });
    expect(Object.fromEntries(settings.rules)).toEqual({
      "order:shipped": ["sms", "email"],
      "order:delivered": ["sms", "email"],
      "order:cancelled": ["sms", "email"],
      "refill:approved": ["sms", "email"],
      "refill:denied": ["sms", "email"],
    });
    const empty = envWith({});
    expect([
      readPayloadRetentionDays(empty),
      readAuditRetentionDays(empty),
      readEventRowRetentionDays(empty),
      readChangeFeedDays(empty),
    ]).toEqual([30, 2190, 0, 30]);
    expect(readTwilioWebhookSettings(envWith({}))).toEqual({ authTokens: [], publicBaseUrl: null });
  });

  it("read the same when the variable is absent altogether", () => {
    const absent = envWith({
      CLINIC_NAME: undefined,
      NOTIFICATION_RULES: undefined,
      PAYLOAD_RETENTION_DAYS: undefined,
    });
    expect(readNotificationSettings(absent).clinicName).toBe("Your Clinic");
    expect(readNotificationSettings(absent).rules.size).toBe(5);
    expect(readPayloadRetentionDays(absent)).toBe(30);
  });
});

const NEW_KEY = "new-webhook-key-0f3a9c7e2b1d6e84c5";
const OLD_KEY = "old-webhook-key-8b2d4f6a1c9e3e75d0";

describe("set variables", () => {
  it("are trimmed, split and typed", () => {
    const custom = envWith({
      NOVAMED_WEBHOOK_SECRET: ` ${NEW_KEY} , ${OLD_KEY} `,
      NOVAMED_CLINIC_IDS: "550E8400-E29B-41D4-A716-446655440000",
      ADMIN_TOKEN: " a-long-admin-token-for-this-config-test ",
      SMS_SEND_WINDOW: "09:30-20:00",
      NOTIFICATION_RULES: "order:shipped=sms, refill:denied=email+email",
      PAYLOAD_RETENTION_DAYS: "0",
      PUBLIC_BASE_URL: "https://receiver.example//",
      SMS_PROVIDER: "twilio",
      EMAIL_PROVIDER: "resend",
      TWILIO_ACCOUNT_SID: "AC1",
      TWILIO_AUTH_TOKEN: "token, previous-token",
      TWILIO_FROM_NUMBER: "+14155550100",
      RESEND_API_KEY: "re_1",
      EMAIL_FROM: "Clinic <care@clinic.example>",
    });
    expect(readWebhookConfig(custom)).toEqual({
      apiKeys: [NEW_KEY, OLD_KEY],
      clinicKeys: new Map(),
      clinicIds: new Set(["550e8400-e29b-41d4-a716-446655440000"]),
    });
    expect(readAdminIdentity(custom).token).toBe("a-long-admin-token-for-this-config-test");
    const settings = readNotificationSettings(custom);
    expect(settings.smsWindow).toEqual({ start: 9 * 60 + 30, end: 20 * 60 });
    expect(Object.fromEntries(settings.rules)).toEqual({ "order:shipped": ["sms"], "refill:denied": ["email"] });
    expect(readSmsProvider(custom)).toEqual({
      provider: "twilio",
      twilio: {
        accountSid: "AC1",
        authTokens: ["token", "previous-token"],
        messagingServiceSid: null,
        from: "+14155550100",
        statusCallbackUrl: "https://receiver.example/webhooks/twilio/status",
      },
    });
    expect(readEmailProvider(custom)).toEqual({
      provider: "resend",
      resend: { apiKey: "re_1", from: "Clinic <care@clinic.example>" },
    });
    expect(readPayloadRetentionDays(custom)).toBe(0);
    expect(readTwilioWebhookSettings(custom)).toEqual({
      authTokens: ["token", "previous-token"],
      publicBaseUrl: "https://receiver.example",
    });
  });

  it("NOTIFICATION_RULES=none silences every event type", () => {
    expect(readNotificationSettings(envWith({ NOTIFICATION_RULES: "none" })).rules.size).toBe(0);
  });

  it("are read once per env object", () => {
    const once = envWith({});
    expect(readNotificationSettings(once)).toBe(readNotificationSettings(once));
    expect(readWebhookConfig(once)).toBe(readWebhookConfig(once));
  });
});

describe("a malformed variable", () => {
  const SECRET_LOOKING = "s3cr3t-value-do-not-echo";
  it.each([
    ["ADMIN_TOKEN", { ADMIN_TOKEN: " " }, readAdminIdentity],
    ["NOVAMED_CLINIC_IDS", { NOVAMED_CLINIC_IDS: SECRET_LOOKING }, readWebhookConfig],
    ["CLINIC_TIMEZONE", { CLINIC_TIMEZONE: SECRET_LOOKING }, readNotificationSettings],
    ["SMS_SEND_WINDOW", { SMS_SEND_WINDOW: "21:00-08:00" }, readNotificationSettings],
    ["SMS_SEND_WINDOW", { SMS_SEND_WINDOW: SECRET_LOOKING }, readNotificationSettings],
    ["NOTIFICATION_RULES", { NOTIFICATION_RULES: `${SECRET_LOOKING}=sms` }, readNotificationSettings],
    ["NOTIFICATION_RULES", { NOTIFICATION_RULES: "order:shipped=pager" }, readNotificationSettings],
    ["NOTIFICATION_RULES", { NOTIFICATION_RULES: "order:shipped" }, readNotificationSettings],
    ["SMS_DAILY_CAP", { SMS_DAILY_CAP: "-1" }, readNotificationSettings],
    ["EMAIL_DAILY_CAP", { EMAIL_DAILY_CAP: SECRET_LOOKING }, readNotificationSettings],
    ["SMS_PROVIDER", { SMS_PROVIDER: undefined }, readSmsProvider],
    ["SMS_PROVIDER", { SMS_PROVIDER: SECRET_LOOKING }, readSmsProvider],
    ["TWILIO_ACCOUNT_SID", { SMS_PROVIDER: "twilio", TWILIO_AUTH_TOKEN: SECRET_LOOKING }, readSmsProvider],
    ["TWILIO_AUTH_TOKEN", { SMS_PROVIDER: "twilio", TWILIO_ACCOUNT_SID: SECRET_LOOKING }, readSmsProvider],
    [
      "TWILIO_MESSAGING_SERVICE_SID",
      { SMS_PROVIDER: "twilio", TWILIO_ACCOUNT_SID: "AC1", TWILIO_AUTH_TOKEN: SECRET_LOOKING },
      readSmsProvider,
    ],
    ["EMAIL_PROVIDER", { EMAIL_PROVIDER: "" }, readEmailProvider],
    ["EMAIL_PROVIDER", { EMAIL_PROVIDER: SECRET_LOOKING }, readEmailProvider],
    ["RESEND_API_KEY", { EMAIL_PROVIDER: "resend", EMAIL_FROM: SECRET_LOOKING }, readEmailProvider],
    ["EMAIL_FROM", { EMAIL_PROVIDER: "resend", RESEND_API_KEY: SECRET_LOOKING }, readEmailProvider],
    ["PAYLOAD_RETENTION_DAYS", { PAYLOAD_RETENTION_DAYS: "-1" }, readPayloadRetentionDays],
    ["PAYLOAD_RETENTION_DAYS", { PAYLOAD_RETENTION_DAYS: SECRET_LOOKING }, readPayloadRetentionDays],
    ["AUDIT_RETENTION_DAYS", { AUDIT_RETENTION_DAYS: "-1" }, readAuditRetentionDays],
    ["EVENT_ROW_RETENTION_DAYS", { EVENT_ROW_RETENTION_DAYS: "1.5" }, readEventRowRetentionDays],
    ["CHANGE_FEED_DAYS", { CHANGE_FEED_DAYS: "0" }, readChangeFeedDays],
    ["CHANGE_FEED_DAYS", { CHANGE_FEED_DAYS: "7d" }, readChangeFeedDays],
  ] as const)("%s: a ConfigError names it, never the value", (variable, overrides, read) => {
    const error = configError(() => read(envWith(overrides)));
    expect(error.variable).toBe(variable);
    expect(error.message.startsWith(variable)).toBe(true);
    expect(error.message).not.toContain(SECRET_LOOKING);
  });
});
