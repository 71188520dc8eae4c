import type { Channel } from "../../channels";
import { readEmailProvider, readSmsProvider } from "../../config/providers";
import { ConfigError } from "../../config/read";
import { logProvider } from "./log";
import type { Provider } from "./provider";
import { resendProvider } from "./resend";
import { twilioProvider } from "./twilio";

/** A channel's provider, or why its messages are held: the variable to fix, never a value. */
export type ChannelProvider = { provider: Provider } | { held: string };

/**
 * Each channel's provider as `SMS_PROVIDER` and `EMAIL_PROVIDER` choose it. A channel whose choice is
 * missing or half-configured is held (with the ConfigError's text), so a deploy missing a secret
 * never reports messages `sent` that nobody received.
 */
export function providersFor(env: Env): Record<Channel, ChannelProvider> {
  return {
    sms: heldOnConfigError(() => {
      const sms = readSmsProvider(env);
      return sms.provider === "twilio" ? twilioProvider(sms.twilio) : logProvider;
    }),
    email: heldOnConfigError(() => {
      const email = readEmailProvider(env);
      return email.provider === "resend" ? resendProvider(email.resend) : logProvider;
    }),
  };
}

function heldOnConfigError(read: () => Provider): ChannelProvider {
  try {
    return { provider: read() };
  } catch (error) {
    if (error instanceof ConfigError) return { held: error.message };
    throw error;
  }
}
