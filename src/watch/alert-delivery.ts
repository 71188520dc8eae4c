import { readEmailProvider } from "../config/providers";
import { ConfigError } from "../config/read";
import { readWatchSettings } from "../config/watch";
import {
  type AlertChannel,
  type AlertRow,
  digestDelivered,
  openAlertsForDigest,
  recordAlertDelivery,
  recordDigest,
  undeliveredAlerts,
} from "../db/alerts";
import { log } from "../log";
import { networkFailure, PROVIDER_TIMEOUT_MS } from "../notify/providers/provider";
import { resendProvider } from "../notify/providers/resend";
import { attemptDelivery, type DeliveryOutcome } from "../outbox/attempt";
import { sha256Hex } from "../sha256";
import { loadClinics } from "../tenancy/clinics";
import { type AlertMessage, digestMessage, openedMessage, slackEscape } from "./alert-text";

/** Alerts per "opened" message; more wait for the next run (each run is every 5 minutes). */
export const OPENED_PER_MESSAGE = 50;
/** Alerts listed by name in a digest; the rest are counted. */
export const DIGEST_LISTED = 50;
/**
 * The daily digest is due from this UTC hour on (08:00 in New York in winter, 09:00 in summer): the
 * first 5-minute run at or after it sends the day's digest, and a failed one is retried by the next.
 */
export const DIGEST_HOUR_UTC = 13;

interface AlertSender {
  channel: AlertChannel;
  /**
   * Sends `message` about `alerts`; the email sender also tells each clinic's `alert_emails` about
   * that clinic's alerts, in a message `render` writes for them alone.
   */
  send(
    message: AlertMessage,
    alerts?: readonly AlertRow[],
    render?: (alerts: readonly AlertRow[]) => AlertMessage,
  ): Promise<DeliveryOutcome>;
}

/** Each clinic's `alert_emails` (its profile), by clinic id; clinics without any are absent. */
export type ClinicAlertEmails = ReadonlyMap<string, readonly string[]>;

/** Each channel's state, as `/admin/alerts` reports it: `not_configured` channels tell nobody. */
export type ChannelState = "configured" | "not_configured" | "email_provider_not_configured" | "misconfigured";

/** The channels staff are told through, and why a wanted channel cannot send. */
export function alertChannels(
  env: Env,
  clinicEmails: ClinicAlertEmails = new Map(),
): { senders: AlertSender[]; states: Record<AlertChannel, ChannelState> } {
  const settings = readWatchSettings(env);
  const senders: AlertSender[] = [];
  const states: Record<AlertChannel, ChannelState> = { webhook: "not_configured", email: "not_configured" };
  if (settings.webhookUrl) {
    senders.push(webhookSender(settings.webhookUrl));
    states.webhook = "configured";
  }
  if (settings.emailTo.length > 0 || clinicEmails.size > 0) {
    const email = emailSettingsOrNull(env);
    if (email) {
      senders.push(emailSender(email, settings.emailTo, clinicEmails));
      states.email = "configured";
    } else {
      states.email = "email_provider_not_configured";
    }
  }
  return { senders, states };
}

/** Each channel's state for the admin API; `misconfigured` when an ALERT_* variable is malformed. */
export function alertChannelStates(env: Env): Record<AlertChannel, ChannelState> {
  try {
    return alertChannels(env).states;
  } catch (error) {
    if (error instanceof ConfigError) return { webhook: "misconfigured", email: "misconfigured" };
    throw error;
  }
}

/** Resend's settings when it is the chosen email provider; null otherwise (the `log` provider sends nothing). */
function emailSettingsOrNull(env: Env) {
  try {
    const email = readEmailProvider(env);
    return email.provider === "resend" ? email.resend : null;
  } catch (error) {
    if (error instanceof ConfigError) return null;
    throw error;
  }
}

/** A Slack-compatible incoming webhook: `POST {"text": ...}` (Slack-escaped), any 2xx is delivered. */
function webhookSender(url: string): AlertSender {
  return {
    channel: "webhook",
    async send(message) {
      let response: Response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ text: slackEscape(message.text) }),
          signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
        });
      } catch (error) {
        const failure = networkFailure(error);
        return { delivered: false, error: "reason" in failure ? failure.reason : "network error" };
      }
      await response.body?.cancel();
      return response.ok ? { delivered: true } : { delivered: false, error: `webhook answered ${response.status}` };
    },
  };
}

/**
 * Email through the configured provider, one message per address. Each carries an idempotency key
 * derived from its text and address, so a retry after a partial failure re-sends only what the
 * provider has not seen.
 */
function emailSender(
  settings: NonNullable<ReturnType<typeof emailSettingsOrNull>>,
  to: string[],
  clinicEmails: ClinicAlertEmails,
): AlertSender {
  const provider = resendProvider(settings);
  const sendTo = async (addresses: readonly string[], message: AlertMessage): Promise<string | null> => {
    for (const address of addresses) {
      const result = await provider.send({
        channel: "email",
        notificationId: await idempotencyKey(address, message),
        to: address,
        email: { subject: message.subject, text: message.text, html: htmlOf(message.text) },
      });
      if (result.outcome !== "sent") return result.reason;
    }
    return null;
  };
  return {
    channel: "email",
    async send(message, alerts = [], render) {
      const failed = await sendTo(to, message);
      if (failed) return { delivered: false, error: failed };
      // Alerts for a clinic's targets also go to that clinic's alert_emails, each clinic its own only.
      for (const [clinicId, addresses] of clinicEmails) {
        const own = alerts.filter((alert) => alert.clinic_id?.toLowerCase() === clinicId);
        if (own.length === 0 || !render) continue;
        const clinicFailed = await sendTo(addresses, render(own));
        if (clinicFailed) return { delivered: false, error: clinicFailed };
      }
      return { delivered: true };
    },
  };
}

async function idempotencyKey(address: string, message: AlertMessage): Promise<string> {
  return `alert-${(await sha256Hex(`${address}\n${message.text}`)).slice(0, 40)}`;
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function htmlOf(text: string): string {
  const escaped = text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character] ?? character);
  return `<!doctype html><html><body><pre style="font-family:inherit;white-space:pre-wrap">${escaped}</pre></body></html>`;
}

/**
 * Tells staff on every configured channel: first the alerts they have not been told about (each
 * once per channel, recorded only once delivered), then, once a day, a digest of what is still open.
 * A failed delivery stays pending and is retried by the next run.
 */
export async function deliverAlerts(env: Env, now: Date): Promise<{ told: number; digests: number }> {
  const { senders, states } = alertChannels(env, await clinicAlertEmails(env));
  if (states.email === "email_provider_not_configured") {
    log.warn("alert email not sent", { reason: "ALERT_EMAIL_TO is set but no email provider is configured" });
  }
  let told = 0;
  let digests = 0;
  for (const sender of senders) {
    told += await tellOpened(env.DB, sender, now, publicBaseUrl(env));
    if (await sendDigest(env.DB, sender, now, publicBaseUrl(env))) digests += 1;
  }
  return { told, digests };
}

/** Each allowed clinic's alert emails; none while the clinic settings cannot be read (staff still hear). */
async function clinicAlertEmails(env: Env): Promise<ClinicAlertEmails> {
  try {
    const clinics = await loadClinics(env);
    return new Map(
      clinics.filter((clinic) => clinic.alertEmails.length > 0).map((clinic) => [clinic.clinicId, clinic.alertEmails]),
    );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    log.warn("clinic alert emails unreadable", { variable: error.variable });
    return new Map();
  }
}

function publicBaseUrl(env: Env): string | null {
  return readWatchSettings(env).publicBaseUrl;
}

async function tellOpened(db: D1Database, sender: AlertSender, now: Date, baseUrl: string | null): Promise<number> {
  const pending = await undeliveredAlerts(db, sender.channel, OPENED_PER_MESSAGE);
  if (pending.length === 0) return 0;
  const outcome = await safeSend(sender, openedMessage(pending, baseUrl), pending, (alerts) =>
    openedMessage(alerts, baseUrl),
  );
  await recordAlertDelivery(
    db,
    pending.map((alert) => alert.alert_id),
    sender.channel,
    outcome,
    now,
  );
  if (!outcome.delivered) {
    log.warn("alert delivery failed", { channel: sender.channel, alerts: pending.length, error: outcome.error });
    return 0;
  }
  return pending.length;
}

async function sendDigest(db: D1Database, sender: AlertSender, now: Date, baseUrl: string | null): Promise<boolean> {
  if (now.getUTCHours() < DIGEST_HOUR_UTC) return false;
  const day = now.toISOString().slice(0, 10);
  if (await digestDelivered(db, day, sender.channel)) return false;
  const { alerts, total } = await openAlertsForDigest(db, DIGEST_LISTED);
  const ids = alerts.map((alert) => alert.alert_id);
  // Nothing open: the day's digest is done without a message.
  const outcome =
    total === 0 ? { delivered: true as const } : await safeSend(sender, digestMessage(alerts, total, now, baseUrl));
  await recordDigest(db, day, sender.channel, ids, outcome, now);
  if (!outcome.delivered) log.warn("alert digest failed", { channel: sender.channel, error: outcome.error });
  return outcome.delivered && total > 0;
}

/** A sender's outcome; an unexpected throw counts as a failed delivery, retried by the next run. */
function safeSend(
  sender: AlertSender,
  message: AlertMessage,
  alerts?: readonly AlertRow[],
  render?: (alerts: readonly AlertRow[]) => AlertMessage,
): Promise<DeliveryOutcome> {
  return attemptDelivery(() => sender.send(message, alerts, render));
}
