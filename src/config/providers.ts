import { z } from "zod";
import { optionalText, reportMissing, settingsReader } from "./read";

/**
 * Which provider each channel uses is chosen, never assumed: `SMS_PROVIDER` (`twilio` | `log`) and
 * `EMAIL_PROVIDER` (`resend` | `log`). A channel whose choice is missing, unknown or half-configured
 * is a {@link ConfigError} naming the variable; the sender then records that channel's messages
 * `held` with the reason (never `sent`) until the setting is fixed and they are replayed.
 */

export interface TwilioSettings {
  accountSid: string;
  /** `TWILIO_AUTH_TOKEN` as a list: the first token sends; every one verifies signatures (rotation). */
  authTokens: [string, ...string[]];
  messagingServiceSid: string | null;
  from: string | null;
  /** Where Twilio posts delivery status (the notification id is added per message); null without PUBLIC_BASE_URL. */
  statusCallbackUrl: string | null;
}

export interface EmailSettings {
  apiKey: string;
  from: string;
}

export type SmsProviderSettings = { provider: "twilio"; twilio: TwilioSettings } | { provider: "log" };
export type EmailProviderSettings = { provider: "resend"; resend: EmailSettings } | { provider: "log" };

/** `PUBLIC_BASE_URL` without a trailing slash, or null when unset. */
export const publicBaseUrl = () => optionalText().transform((url) => url?.replace(/\/+$/, "") ?? null);

/** `TWILIO_AUTH_TOKEN`: one token, or a comma-separated list while a token is being rotated. */
export const authTokenList = () =>
  optionalText().transform((value) =>
    (value ?? "")
      .split(",")
      .map((token) => token.trim())
      .filter((token) => token.length > 0),
  );

const choice = <T extends string>(values: readonly [T, ...T[]]) =>
  z.enum(values, { error: `must be one of ${values.join(", ")}` });

const smsSchema = () =>
  z
    .object({
      SMS_PROVIDER: optionalText().pipe(choice(["twilio", "log"]).nullable()),
      TWILIO_ACCOUNT_SID: optionalText(),
      TWILIO_AUTH_TOKEN: authTokenList(),
      TWILIO_MESSAGING_SERVICE_SID: optionalText(),
      TWILIO_FROM_NUMBER: optionalText(),
      PUBLIC_BASE_URL: publicBaseUrl(),
    })
    .superRefine((vars, context) => {
      if (vars.SMS_PROVIDER === null) reportMissing(context, "SMS_PROVIDER", "is not set (twilio or log)");
      if (vars.SMS_PROVIDER !== "twilio") return;
      if (!vars.TWILIO_ACCOUNT_SID)
        reportMissing(context, "TWILIO_ACCOUNT_SID", "is not set although SMS_PROVIDER is twilio");
      else if (vars.TWILIO_AUTH_TOKEN.length === 0)
        reportMissing(context, "TWILIO_AUTH_TOKEN", "is not set although SMS_PROVIDER is twilio");
      else if (!vars.TWILIO_MESSAGING_SERVICE_SID && !vars.TWILIO_FROM_NUMBER)
        reportMissing(
          context,
          "TWILIO_MESSAGING_SERVICE_SID",
          "or TWILIO_FROM_NUMBER must be set with SMS_PROVIDER twilio",
        );
    })
    .transform((vars): SmsProviderSettings => {
      const [first, ...rest] = vars.TWILIO_AUTH_TOKEN;
      if (vars.SMS_PROVIDER !== "twilio" || !vars.TWILIO_ACCOUNT_SID || first === undefined) return { provider: "log" };
      return {
        provider: "twilio",
        twilio: {
          accountSid: vars.TWILIO_ACCOUNT_SID,
          authTokens: [first, ...rest],
          messagingServiceSid: vars.TWILIO_MESSAGING_SERVICE_SID,
          from: vars.TWILIO_FROM_NUMBER,
          statusCallbackUrl: vars.PUBLIC_BASE_URL ? `${vars.PUBLIC_BASE_URL}/webhooks/twilio/status` : null,
        },
      };
    });

const emailSchema = () =>
  z
    .object({
      EMAIL_PROVIDER: optionalText().pipe(choice(["resend", "log"]).nullable()),
      RESEND_API_KEY: optionalText(),
      EMAIL_FROM: optionalText(),
    })
    .superRefine((vars, context) => {
      if (vars.EMAIL_PROVIDER === null) reportMissing(context, "EMAIL_PROVIDER", "is not set (resend or log)");
      if (vars.EMAIL_PROVIDER !== "resend") return;
      if (!vars.RESEND_API_KEY)
        reportMissing(context, "RESEND_API_KEY", "is not set although EMAIL_PROVIDER is resend");
      else if (!vars.EMAIL_FROM) reportMissing(context, "EMAIL_FROM", "is not set although EMAIL_PROVIDER is resend");
    })
    .transform(
      (vars): EmailProviderSettings =>
        vars.EMAIL_PROVIDER === "resend" && vars.RESEND_API_KEY && vars.EMAIL_FROM
          ? { provider: "resend", resend: { apiKey: vars.RESEND_API_KEY, from: vars.EMAIL_FROM } }
          : { provider: "log" },
    );

/** The SMS channel's provider; a ConfigError names the variable to fix. */
export const readSmsProvider = settingsReader(smsSchema);

/** The email channel's provider; a ConfigError names the variable to fix. */
export const readEmailProvider = settingsReader(emailSchema);
