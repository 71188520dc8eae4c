import { z } from "zod";
import { commaList, optionalText, settingsReader } from "./read";

/**
 * What clinic profiles fall back to besides the notification settings: the allow-list alone (so
 * profile routes and the console keep working while a webhook key is being fixed) and the sender
 * identities of the `[vars]`/secrets (`TWILIO_MESSAGING_SERVICE_SID`, `TWILIO_FROM_NUMBER`,
 * `EMAIL_FROM`), which are every clinic's default sender.
 */

/** `NOVAMED_CLINIC_IDS` alone, lower-cased, in configured order. */
export const readClinicIds = settingsReader(() =>
  z
    .object({
      NOVAMED_CLINIC_IDS: commaList(z.guid({ error: "holds an entry that is not a UUID" }), "holds no clinic id"),
    })
    .transform((vars) => [...new Set(vars.NOVAMED_CLINIC_IDS.map((id) => id.toLowerCase()))]),
);

/** The default sender identities; each may be unset (the provider's own check reports what is missing). */
export const readSenderDefaults = settingsReader(() =>
  z
    .object({
      TWILIO_MESSAGING_SERVICE_SID: optionalText(),
      TWILIO_FROM_NUMBER: optionalText(),
      EMAIL_FROM: optionalText(),
    })
    .transform((vars) => ({
      smsMessagingServiceSid: vars.TWILIO_MESSAGING_SERVICE_SID,
      smsFrom: vars.TWILIO_FROM_NUMBER,
      emailFrom: vars.EMAIL_FROM,
    })),
);

export type SenderDefaults = ReturnType<typeof readSenderDefaults>;
