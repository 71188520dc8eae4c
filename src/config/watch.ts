import { z } from "zod";
import { publicBaseUrl } from "./providers";
import { optionalText, settingsReader, withDefault } from "./read";

/** The lifecycle states the watch knows how to measure, each with its default threshold. */
export const LIFECYCLE_STATES = [
  "medication_request:approved",
  "order:created",
  "order:processing",
  "order:shipped",
  "refill:requested",
] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

/** `LIFECYCLE_RULES`' defaults; an entry in the variable replaces its state's default only. */
const DEFAULT_LIFECYCLE_RULES =
  "medication_request:approved=24h,order:created=72h,order:processing=72h,order:shipped=eta+2d,refill:requested=48h,webhook_rejections=20/15m";

/** The `LIFECYCLE_RULES` entry for refused webhook deliveries: `webhook_rejections=<count>/<window>` or `off`. */
export const REJECTIONS_RULE = "webhook_rejections";

/** Alert when one clinic (or `unknown`) has `count` refused deliveries or more within `windowMs`. */
export interface RejectionThreshold {
  count: number;
  windowMs: number;
}

/** How long a shipped order without an `estimated_delivery` may stay undelivered. */
export const SHIPPED_WITHOUT_ETA_MS = 7 * 86_400_000;

/**
 * One lifecycle rule: a target is stalled `afterMs` after it entered the state; `fromEta` measures a
 * shipped order from its `estimated_delivery` instead (and {@link SHIPPED_WITHOUT_ETA_MS} from shipping
 * when it has none).
 */
export interface LifecycleThreshold {
  afterMs: number;
  fromEta: boolean;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30s`, `15m`, `24h`, `2d` in milliseconds; null for anything else. */
export function parseDuration(text: string): number | null {
  const match = /^(\d{1,6})([smhd])$/.exec(text.trim());
  if (!match) return null;
  const amount = Number(match[1]);
  const unit = match[2] as keyof typeof UNIT_MS;
  return amount > 0 ? amount * UNIT_MS[unit] : null;
}

/**
 * `LIFECYCLE_RULES`: comma-separated `state=duration`, `state=off`, or (order:shipped only)
 * `order:shipped=eta+duration`. States not named keep their default. Issues never echo the value.
 */
const lifecycleRules = () =>
  z.string().transform((source, context) => {
    const rules = new Map<LifecycleState, LifecycleThreshold | null>();
    let rejections: RejectionThreshold | null = null;
    for (const entry of `${DEFAULT_LIFECYCLE_RULES},${source}`.split(",")) {
      if (entry.trim() === "") continue;
      const [name = "", value = ""] = entry.split("=").map((part) => part.trim());
      if (name === REJECTIONS_RULE) {
        const match = /^(\d{1,6})\/(.+)$/.exec(value);
        const windowMs = match?.[2] ? parseDuration(match[2]) : null;
        if (value !== "off" && (!match || Number(match[1]) < 1 || windowMs === null)) {
          context.addIssue({ code: "custom", message: `needs ${REJECTIONS_RULE}=count/duration (e.g. 20/15m) or off` });
          return z.NEVER;
        }
        rejections = value === "off" || windowMs === null ? null : { count: Number(match?.[1]), windowMs };
        continue;
      }
      const state = LIFECYCLE_STATES.find((known) => known === name);
      if (!state) {
        context.addIssue({
          code: "custom",
          message: `names a state other than ${LIFECYCLE_STATES.join(", ")} (or ${REJECTIONS_RULE})`,
        });
        return z.NEVER;
      }
      if (value === "off") {
        rules.set(state, null);
        continue;
      }
      const fromEta = value.startsWith("eta+");
      const afterMs = parseDuration(fromEta ? value.slice(4) : value);
      if (afterMs === null || (fromEta && state !== "order:shipped")) {
        context.addIssue({
          code: "custom",
          message: "needs state=duration (30s, 15m, 24h, 2d), off, or order:shipped=eta+duration",
        });
        return z.NEVER;
      }
      rules.set(state, { afterMs, fromEta });
    }
    return { rules, rejections };
  });

/** A duration variable that may also be `off`. */
const durationOrOff = () =>
  z.string().transform((value, context) => {
    if (value === "off") return null;
    const ms = parseDuration(value);
    if (ms === null) {
      context.addIssue({ code: "custom", message: "must be a duration such as 30s, 15m, 24h or 2d, or off" });
      return z.NEVER;
    }
    return ms;
  });

/** `ALERT_WEBHOOK_URL`: https, or plain http only to this machine (a local test receiver). */
const alertWebhookUrl = () =>
  optionalText().refine(
    (value) => {
      if (value === null) return true;
      try {
        const url = new URL(value);
        return (
          url.protocol === "https:" || (url.protocol === "http:" && ["localhost", "127.0.0.1"].includes(url.hostname))
        );
      } catch {
        return false;
      }
    },
    { error: "must be an https URL (or http to localhost or 127.0.0.1)" },
  );

/** `ALERT_EMAIL_TO`: comma-separated addresses, or unset. */
const alertEmailTo = () =>
  optionalText().transform((value, context) => {
    if (value === null) return [];
    const addresses = value
      .split(",")
      .map((address) => address.trim())
      .filter((address) => address.length > 0);
    if (!addresses.every((address) => z.email().safeParse(address).success)) {
      context.addIssue({ code: "custom", message: "holds an entry that is not an email address" });
      return z.NEVER;
    }
    return addresses;
  });

const watchSchema = () =>
  z
    .object({
      LIFECYCLE_RULES: withDefault("", lifecycleRules()),
      NOVAMED_SILENCE_ALERT: withDefault("24h", durationOrOff()),
      ALERT_WEBHOOK_URL: alertWebhookUrl(),
      ALERT_EMAIL_TO: alertEmailTo(),
      PUBLIC_BASE_URL: publicBaseUrl(),
    })
    .transform((vars) => ({
      /** Each lifecycle state's threshold; null when the rule is off. */
      lifecycle: vars.LIFECYCLE_RULES.rules,
      /** Refused webhook deliveries that open an alert; null when the rule is off. */
      rejections: vars.LIFECYCLE_RULES.rejections,
      /** How long a clinic may stay silent before an alert; null when off. */
      silenceMs: vars.NOVAMED_SILENCE_ALERT,
      /** The Slack-compatible incoming webhook staff are told through; null when unset. */
      webhookUrl: vars.ALERT_WEBHOOK_URL,
      /** Staff addresses told by email; empty when unset. */
      emailTo: vars.ALERT_EMAIL_TO,
      /** Where console links in alert texts point; null leaves them relative. */
      publicBaseUrl: vars.PUBLIC_BASE_URL,
    }));

export type WatchSettings = z.output<ReturnType<typeof watchSchema>>;

/** The lifecycle watch's settings; throws a ConfigError naming a malformed variable. */
export const readWatchSettings = settingsReader(watchSchema);
