import type { NotificationRow } from "../db/notification-outbox";
import type { Outcome } from "../db/notification-sends";
import { retryOnceInPlace } from "../db/retry-once";
import { errorKind, log } from "../log";
import type { Decision } from "./decide";
import type { SendResult } from "./providers/provider";

/** A decision that needs no provider call, as the outcome recorded for it. */
export function outcomeOfDecision(row: NotificationRow, decision: Exclude<Decision, { action: "send" }>): Outcome {
  const notificationId = row.notification_id;
  switch (decision.action) {
    case "hold":
      return { notificationId, status: "held", error: decision.reason };
    case "supersede":
      return { notificationId, status: "superseded", error: `entity now ${decision.status}` };
    case "suppress":
      return { notificationId, status: "suppressed", error: decision.reason };
    case "schedule":
      // A cap's deferral keeps its reason on the row (quiet hours have none): the event detail shows it.
      return {
        notificationId,
        status: "scheduled",
        scheduledFor: decision.opening.toISOString(),
        error: decision.reason ?? null,
      };
  }
}

/**
 * A provider's definite answer as the outcome recorded for it; null for one that will be retried. A
 * `sent` outcome carries no text: the send mark stored it under the same lease before the call.
 */
export function outcomeOfResult(
  row: NotificationRow,
  result: SendResult,
  provider: string,
  now: string,
): Outcome | null {
  const notificationId = row.notification_id;
  switch (result.outcome) {
    case "sent":
      return {
        notificationId,
        status: "sent",
        provider,
        providerMessageId: result.providerMessageId,
        sentAt: now,
      };
    case "permanent":
      return { notificationId, status: "failed", provider, error: result.reason };
    case "opted_out":
      return { notificationId, status: "suppressed", provider, error: `opted out: ${result.reason}` };
    default:
      return null;
  }
}

/** Records statements as soon as they are handed over; null when D1 could not be written. */
export type OutcomeWriter = (statements: D1PreparedStatement[]) => Promise<D1Result[] | null>;

/**
 * An outcome writer for one sender run. Each provider answer is written as soon as its call returns,
 * not after the whole batch: answers that arrive while a write is in flight go together in the next
 * `db.batch`, so the round trips stay few while no answer waits for another provider call. A write
 * is tried once more at once (every statement is guarded by our lease token and repeatable).
 */
export function outcomeWriter(db: D1Database): OutcomeWriter {
  let waiting: { statements: D1PreparedStatement[]; resolve: (results: D1Result[] | null) => void }[] = [];
  let draining = false;
  async function drain(): Promise<void> {
    draining = true;
    while (waiting.length > 0) {
      const group = waiting;
      waiting = [];
      const statements = group.flatMap((entry) => entry.statements);
      let results: D1Result[] | null = null;
      try {
        results = await retryOnceInPlace("notification outcome record", () => db.batch(statements));
      } catch (error) {
        log.warn("notification outcomes not recorded", { statements: statements.length, error: errorKind(error) });
      }
      let offset = 0;
      for (const entry of group) {
        entry.resolve(results ? results.slice(offset, offset + entry.statements.length) : null);
        offset += entry.statements.length;
      }
    }
    draining = false;
  }
  return (statements) =>
    new Promise((resolve) => {
      waiting.push({ statements, resolve });
      if (!draining) void drain();
    });
}
