import type { RowRead } from "../db/notification-sends";
import { recordedProviderIds } from "../db/notification-sends";
import { retryOnceInPlace } from "../db/retry-once";
import { errorKind, log } from "../log";
import type { ConnectionLimit } from "./connection-limit";
import type { Decision } from "./decide";
import { type FindResult, type OutboundMessage, type Provider, readSendAttempt } from "./providers/provider";

/*
 * The sender's decisions, and the settling of an earlier attempt of unknown outcome: the lookup at
 * the provider, and which of the messages found is this row's own.
 */

/** A job read: its position among the jobs and its outbox row (taken by the first write on it). */
export interface JobRow {
  index: number;
  row: RowRead;
}

/** A send decision with the channel's provider. */
export type SendDecision = Extract<Decision, { action: "send" }> & { provider: Provider };

/**
 * What the sender does with a job read: a decision, or, after an earlier attempt of unknown
 * outcome, what the provider's records said (the message is there: `recovered`; could not ask:
 * `retry_later`, retried later). A tracking update also waits (`retry_later`) while a shipping
 * message's outcome is unknown.
 */
export type SenderDecision =
  | Exclude<Decision, { action: "send" }>
  | SendDecision
  | { action: "recovered"; provider: string; providerMessageId: string; rendered: string }
  | { action: "retry_later"; reason: string };

/** A job read after its earlier attempt was looked up: the messages found, if any (earliest first). */
export interface Lookup {
  item: Decided;
  found?: { providerMessageIds: string[]; provider: string; rendered: string };
}

/** A job read with what to do about it. */
export interface Decided extends JobRow {
  decision: SenderDecision;
  /** The channel's provider, to settle an earlier attempt of unknown outcome; null when held. */
  provider: Provider | null;
}

/**
 * After an earlier attempt of unknown outcome, works from that attempt as stored (its text and
 * destination), never from a freshly rendered message: a changed clinic name, carrier or phone
 * would otherwise miss it. The earlier attempt is settled before any other decision counts (a
 * message the provider accepted must be recorded `sent`, even if the entity has moved on since): a
 * provider with a lookup (Twilio) is asked whether it is there; one that dedupes by key (Resend)
 * gets exactly the same request again, so its key matches its payload and it sends nothing new,
 * unless the patient's consent or contact is gone (a suppression stands).
 */
export async function lookUpEarlierAttempt(item: Decided, withConnection: ConnectionLimit): Promise<Lookup> {
  const { row, decision, provider } = item;
  if (row.send_started_at === null || provider === null) return { item };
  if (decision.action !== "send" && decision.action !== "supersede") return { item };
  const startedAt = new Date(row.send_started_at);
  const earlier = readSendAttempt(row.send_attempt, row.notification_id, row.channel);
  const repeat = (message: OutboundMessage): Decided => ({
    ...item,
    decision: {
      action: "send",
      provider,
      message,
      rendered: row.rendered ?? (decision.action === "send" ? decision.rendered : ""),
      toldTrackingNumber: row.told_tracking_number,
    },
  });
  if (!provider.find) return { item: earlier ? repeat(earlier) : item };
  const lookedFor = earlier ?? (decision.action === "send" ? decision.message : null);
  if (lookedFor === null) return { item };
  const found = await withConnection(
    async (): Promise<FindResult> => (await provider.find?.(lookedFor, startedAt)) ?? { found: false },
  );
  if ("failed" in found) return { item: { ...item, decision: { action: "retry_later", reason: found.failed } } };
  // Not there: the earlier attempt never reached the patient, so today's message is sent.
  if (!found.found) return { item };
  return {
    item,
    found: {
      providerMessageIds: found.providerMessageIds,
      provider: provider.name,
      rendered:
        row.rendered ??
        (decision.action === "send"
          ? decision.rendered
          : lookedFor.channel === "sms"
            ? JSON.stringify({ text: lookedFor.sms })
            : ""),
    },
  };
}

/**
 * Settles each lookup that found matching messages: the row takes the earliest match that no other
 * notification row records (nor another row of this run took), so two word-for-word identical texts
 * to one number never share a message. When every match is another notification's, the earlier
 * attempt never arrived and the decision stands. Records unreadable: the found rows wait and retry.
 */
export async function adoptOwnMessages(db: D1Database, lookups: readonly Lookup[]): Promise<Decided[]> {
  const ids = lookups.flatMap(({ found }) => found?.providerMessageIds ?? []);
  let holders: Map<string, string>;
  try {
    const recorded =
      ids.length === 0 ? [] : await retryOnceInPlace("provider id read", () => recordedProviderIds(db, ids));
    holders = new Map(recorded.map((row) => [row.provider_message_id, row.notification_id]));
  } catch (error) {
    log.warn("recorded provider ids not read", { error: errorKind(error) });
    return lookups.map(({ item, found }) =>
      found ? { ...item, decision: { action: "retry_later", reason: "recorded provider ids unreadable" } } : item,
    );
  }
  return lookups.map(({ item, found }) => {
    if (!found) return item;
    const own = item.row.notification_id;
    const providerMessageId = found.providerMessageIds.find((id) => (holders.get(id) ?? own) === own);
    if (providerMessageId === undefined) return item;
    holders.set(providerMessageId, own);
    const { provider, rendered } = found;
    return { ...item, decision: { action: "recovered", provider, providerMessageId, rendered } };
  });
}
