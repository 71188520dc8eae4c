import type { Provider, SendResult } from "./provider";

/**
 * The provider of a channel without credentials (the local default): nothing leaves the machine.
 * The sender records the rendered message on the outbox row and marks it `sent` with provider `log`.
 */
export const logProvider: Provider = {
  name: "log",
  async send(): Promise<SendResult> {
    return { outcome: "sent", providerMessageId: null };
  },
};
