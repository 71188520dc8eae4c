import { ConfigError } from "../config";
import { EVENT_TYPES, type KnownEventType } from "../events/schemas";

export type Channel = "sms" | "email";
export const CHANNELS: readonly Channel[] = ["sms", "email"];

/** What a patient is told, one per notifying event type: `order:shipped` → `order_shipped`. */
export type NotificationKind = string;

/** The events that notify by default, on both channels. */
export const DEFAULT_NOTIFICATION_RULES =
  "order:shipped=sms+email,order:delivered=sms+email,order:cancelled=sms+email,refill:approved=sms+email,refill:denied=sms+email";

/**
 * Parses `NOTIFICATION_RULES` (`event_type=channel+channel,...`; `none` silences everything) into
 * the channels each event type notifies on. Names the variable, never echoes its value, on error.
 */
export function parseNotificationRules(raw: string | undefined): Map<KnownEventType, Channel[]> {
  const source = raw === undefined || raw.trim() === "" ? DEFAULT_NOTIFICATION_RULES : raw.trim();
  const rules = new Map<KnownEventType, Channel[]>();
  if (source === "none") return rules;
  for (const entry of source
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)) {
    const [type, channels] = entry.split("=").map((part) => part.trim());
    if (!type || !channels || !(EVENT_TYPES as string[]).includes(type)) {
      throw new ConfigError("NOTIFICATION_RULES", "names an unknown event type or lacks '=channels'");
    }
    const list = channels.split("+").map((channel) => channel.trim());
    if (!list.every((channel): channel is Channel => (CHANNELS as string[]).includes(channel))) {
      throw new ConfigError("NOTIFICATION_RULES", "names a channel other than sms or email");
    }
    rules.set(type as KnownEventType, [...new Set(list)]);
  }
  return rules;
}

/** `order:shipped` → `order_shipped`. */
export function kindOf(eventType: string): NotificationKind {
  return eventType.replace(":", "_");
}
