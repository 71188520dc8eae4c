import type { Channel, NotificationSettings } from "../../config/notifications";
import { logProvider } from "./log";
import type { Provider } from "./provider";
import { resendProvider } from "./resend";
import { twilioProvider } from "./twilio";

export type Providers = Record<Channel, Provider>;

/** Twilio and Resend when their credentials are set; the log provider otherwise. */
export function providersFor(settings: NotificationSettings): Providers {
  return {
    sms: settings.twilio ? twilioProvider(settings.twilio) : logProvider,
    email: settings.email ? resendProvider(settings.email) : logProvider,
  };
}
