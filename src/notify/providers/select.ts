import type { Channel } from "../../channels";
import { readEmailProvider, readSmsProvider } from "../../config/providers";
import { tryRead } from "../../config/read";
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
    sms: heldOnConfigError(env, (settings) => {
      const sms = readSmsProvider(settings);
      return sms.provider === "twilio" ? twilioProvider(sms.twilio) : logProvider;
    }),
    email: heldOnConfigError(env, (settings) => {
      const email = readEmailProvider(settings);
      return email.provider === "resend" ? resendProvider(email.resend) : logProvider;
    }),
  };
}

function heldOnConfigError(env: Env, read: (env: Env) => Provider): ChannelProvider {
  const { settings: provider, problem } = tryRead(read, env);
  return problem ? { held: problem.message } : { provider };
}
