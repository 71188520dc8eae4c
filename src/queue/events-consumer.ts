import { retryDelaySeconds } from "../backoff";
import {
  type ClaimedRow,
  type Completion,
  claimEvents,
  completeEvent,
  type EventStatus,
  releaseLeases,
} from "../db/events";
import { retryOnceInPlace } from "../db/retry-once";
import { applyEvent, type ChangeListener, type EntityChange } from "../events/handlers";
import { parseEvent } from "../events/schemas";
import { futureTimestampWarning } from "../events/timestamp";
import { errorKind, log } from "../log";
import { guardEntityClinics } from "./clinic-guard";
import { claimRequestOf, type ReadEventMessage, readEventMessage } from "./event-message";

/**
 * How long a claim is ours. A consumer that dies mid-event leaves its claim; a later delivery takes
 * it over once the lease expires. Applying a batch takes milliseconds, so two minutes is generous.
 */
export const LEASE_MS = 120_000;

/**
 * D1 queries (each statement of a `db.batch` counts) one invocation may spend before the one-by-one
 * fallback commit stops and retries the rest: D1 allows 1,000 per invocation. A batch of 100 costs
 * about 100 for the claim and a few per event for the commit; the budget leaves the fallback room for
 * most of a batch and the whole invocation well under the limit.
 */
export const D1_QUERY_BUDGET = 600;

/** One message to deliver again after `delaySeconds`. */
export interface Retry {
  message: Message<unknown>;
  delaySeconds: number;
}

/**
 * How a consumer of event messages retries. The main queue backs off for about an hour and retries a
 * handler error; the dead-letter queue backs off for days (a D1 outage) and records a handler error
 * as `dead` at once, since the main queue's retries already showed it is not transient.
 */
export interface RetryPolicy {
  delaySeconds(attempts: number): number;
  onHandlerError: "retry" | "dead";
  /** Sends one batch's retries; the dead-letter queue re-spools the ones from their 14th delivery. */
  send(retries: readonly Retry[]): Promise<void>;
}

/** The `novamed-events` policy: jittered backoff capped at 15 minutes, then the dead-letter queue. */
export const MAIN_QUEUE_RETRIES: RetryPolicy = {
  delaySeconds: (attempts) => retryDelaySeconds(attempts),
  onHandlerError: "retry",
  send: async (retries) => {
    for (const { message, delaySeconds } of retries) message.retry({ delaySeconds });
  },
};

export interface ConsumeOptions {
  listeners?: readonly ChangeListener[];
  now?: () => number;
  retries?: RetryPolicy;
}

/** What one batch came to, logged as one line. */
interface BatchCounts {
  messages: number;
  processed: number;
  duplicates: number;
  conflicts: number;
  ignored: number;
  invalid: number;
  dead: number;
  retried: number;
  poison: number;
  d1_round_trips: number;
  /** Statements sent to D1, as its per-invocation limit counts them. */
  d1_queries: number;
}

/**
 * What a claim attempt means for one delivery:
 * - `conflict`: the stored event with this id has different content; kept out, never applied;
 * - `ours`: we hold the lease, so we apply it (only the first copy within a batch);
 * - `duplicate`: already finished, or a second copy in this batch; the first carries the effects;
 * - `leased_elsewhere`: another consumer holds a live lease; come back once it will have run out.
 */
type ClaimOutcome =
  | { kind: "conflict" }
  | { kind: "ours" }
  | { kind: "duplicate" }
  | { kind: "leased_elsewhere"; leaseExpiresAt: number | null };

const FINISHED: readonly EventStatus[] = ["processed", "ignored", "invalid"];

/** Classifies one delivery after the batch's claim; `alreadyOurs` holds the event ids taken earlier in this batch. */
function classifyClaim(
  row: ClaimedRow | undefined,
  read: ReadEventMessage,
  leaseOwner: string,
  alreadyOurs: ReadonlySet<string>,
): ClaimOutcome {
  const eventId = read.envelope.event_id;
  if (row && row.payload_hash !== read.payloadHash) return { kind: "conflict" };
  if (row && row.lease_owner === leaseOwner && !alreadyOurs.has(eventId)) return { kind: "ours" };
  if (row && (alreadyOurs.has(eventId) || FINISHED.includes(row.status))) return { kind: "duplicate" };
  return { kind: "leased_elsewhere", leaseExpiresAt: row?.lease_expires_at ?? null };
}

/** What one message's event came to within a batch; decides ack or retry. */
interface Work {
  message: Message<unknown>;
  read: ReadEventMessage;
  completion: Completion;
  change?: EntityChange;
  statements: D1PreparedStatement[];
}

/**
 * The `novamed-events` consumer. Per batch, in at most three D1 round trips whatever its size:
 * claim every event by id (one `db.batch`), build each claimed event's effects and outcome, commit
 * them all (one `db.batch`), then acknowledge. Duplicates and same-id conflicts are acked without
 * effects; a message whose handler threw is retried alone with backoff; the rest are acked.
 */
export async function consumeEvents(
  batch: MessageBatch<unknown>,
  env: Env,
  options: ConsumeOptions = {},
): Promise<void> {
  const started = Date.now();
  const now = options.now ?? Date.now;
  const listeners = options.listeners ?? [];
  const policy = options.retries ?? MAIN_QUEUE_RETRIES;
  const retries: Retry[] = [];
  const leaseOwner = crypto.randomUUID();
  const counts: BatchCounts = {
    messages: batch.messages.length,
    processed: 0,
    duplicates: 0,
    conflicts: 0,
    ignored: 0,
    invalid: 0,
    dead: 0,
    retried: 0,
    poison: 0,
    d1_round_trips: 0,
    d1_queries: 0,
  };

  const reads: { message: Message<unknown>; read: ReadEventMessage }[] = [];
  for (const message of batch.messages) {
    const read = await readEventMessage(message.body);
    if (read) reads.push({ message, read });
    else {
      counts.poison += 1;
      log.error("event message unreadable", { queue: batch.queue, message_id: message.id });
      message.ack();
    }
  }

  if (reads.length === 0) return logBatch(batch.queue, counts, started);

  let claimed: Map<string, ClaimedRow>;
  const claimTime = now();
  const requests = reads.map(({ read }) => claimRequestOf(read));
  try {
    // If a first claim committed with only its answer lost, the repeat sees our lease as the owner.
    claimed = await retryOnceInPlace("claim", () =>
      claimEvents(env.DB, requests, leaseOwner, claimTime + LEASE_MS, claimTime, (queries) => {
        counts.d1_round_trips += 1;
        counts.d1_queries += queries;
      }),
    );
  } catch (error) {
    // D1 busy or unreachable, or its answer lost after committing: every message comes back later.
    // Release whatever we may have claimed, so those retries need not wait for the leases to expire.
    log.warn("claim failed", { queue: batch.queue, messages: reads.length, error: errorKind(error) });
    counts.d1_round_trips += 1;
    counts.d1_queries += 1;
    await releaseLeases(env.DB, leaseOwner).catch(() => undefined);
    for (const { message } of reads) retries.push({ message, delaySeconds: policy.delaySeconds(message.attempts) });
    counts.retried += reads.length;
    await policy.send(retries);
    logBatch(batch.queue, counts, started);
    return;
  }

  const owned = new Set<string>();
  const work: Work[] = [];
  for (const { message, read } of reads) {
    const eventId = read.envelope.event_id;
    const outcome = classifyClaim(claimed.get(eventId), read, leaseOwner, owned);
    switch (outcome.kind) {
      case "conflict":
        counts.conflicts += 1;
        log.warn("event id conflict", { event_id: eventId, event_type: read.envelope.event_type });
        message.ack();
        break;
      case "ours":
        owned.add(eventId);
        work.push(
          buildWork(env.DB, message, read, { leaseOwner, now: new Date(claimTime).toISOString() }, listeners, policy),
        );
        break;
      case "duplicate":
        counts.duplicates += 1;
        message.ack();
        break;
      case "leased_elsewhere": {
        const leaseLeft = outcome.leaseExpiresAt ? Math.ceil((outcome.leaseExpiresAt - claimTime) / 1000) : 0;
        retries.push({ message, delaySeconds: Math.max(leaseLeft + 1, policy.delaySeconds(message.attempts)) });
        counts.retried += 1;
        break;
      }
    }
  }

  counts.d1_round_trips += await guardEntityClinics(env.DB, work, new Date(claimTime).toISOString());
  const committed = await commit(env.DB, work, leaseOwner, new Date(now()).toISOString(), counts, (retry) =>
    retries.push({ message: retry, delaySeconds: policy.delaySeconds(retry.attempts) }),
  );
  await policy.send(retries);
  for (const listener of listeners) {
    if (!listener.afterCommit || committed.length === 0) continue;
    try {
      await listener.afterCommit(committed, env);
    } catch (error) {
      // The effects are committed; a listener's own recovery (e.g. the outbox sweep) picks this up.
      log.error("after-commit listener failed", { queue: batch.queue, error: errorKind(error) });
    }
  }
  logBatch(batch.queue, counts, started);
}

/** Builds one claimed event's effects and outcome; a handler that throws yields a `failed` outcome. */
function buildWork(
  db: D1Database,
  message: Message<unknown>,
  read: ReadEventMessage,
  guard: { leaseOwner: string; now: string },
  listeners: readonly ChangeListener[],
  policy: RetryPolicy,
): Work {
  const eventId = read.envelope.event_id;
  const parsed = parseEvent(read.envelope);
  if (parsed.kind === "unknown_type")
    return { message, read, completion: { eventId, status: "ignored" }, statements: [] };
  if (parsed.kind === "invalid") {
    return {
      message,
      read,
      completion: { eventId, status: "invalid", issues: JSON.stringify(parsed.issues) },
      statements: [],
    };
  }
  try {
    const change = applyEvent(db, parsed.event, read.occurredAt, guard, listeners);
    const future = futureTimestampWarning(read.occurredAt, read.receivedAt);
    const allWarnings = future ? [...parsed.warnings, future] : parsed.warnings;
    const warnings = allWarnings.length > 0 ? JSON.stringify(allWarnings) : null;
    return {
      message,
      read,
      completion: { eventId, status: "processed", warnings },
      change,
      statements: change.statements,
    };
  } catch (error) {
    return {
      message,
      read,
      completion: {
        eventId,
        status: policy.onHandlerError === "dead" ? "dead" : "failed",
        error: `handler error: ${errorKind(error)}`,
      },
      statements: [],
    };
  }
}

/**
 * Commits every event's effects and outcome in one `db.batch`. If that batch fails, each event is
 * committed on its own so one failing event cannot hold back the others; only failures retry.
 * Returns the changes of the events whose outcome we recorded.
 */
async function commit(
  db: D1Database,
  work: Work[],
  leaseOwner: string,
  now: string,
  counts: BatchCounts,
  retryLater: (message: Message<unknown>) => void,
): Promise<EntityChange[]> {
  if (work.length === 0) return [];
  // Each event's statements end with its completion, whose result tells whether our outcome landed.
  const groups = work.map((item) => ({
    item,
    statements: [...item.statements, completeEvent(db, item.completion, leaseOwner, now)],
  }));
  const committed: EntityChange[] = [];
  try {
    const statements = groups.flatMap((group) => group.statements);
    counts.d1_round_trips += 1;
    counts.d1_queries += statements.length;
    const results = await db.batch(statements);
    let offset = 0;
    for (const { item, statements } of groups) {
      offset += statements.length;
      const recorded = (results[offset - 1]?.meta.changes ?? 0) > 0;
      if (recorded && item.change) committed.push(item.change);
      settle(item, recorded, counts, retryLater);
    }
  } catch (error) {
    log.warn("batch commit failed; committing events one by one", { events: work.length, error: errorKind(error) });
    let deferred = 0;
    for (const { item, statements } of groups) {
      // The failed combined commit may have landed with only its answer lost, and a redelivery would
      // then find the event processed and skip it. So its follow-ups (send jobs) run in any case: for
      // an event that did not commit they find no outbox row and do nothing.
      if (item.change) committed.push(item.change);
      // This event's batch, its failure record and the final lease release must fit the budget;
      // otherwise it waits for a redelivery (a new invocation, a new budget).
      if (counts.d1_queries + statements.length + 2 > D1_QUERY_BUDGET) {
        deferred += 1;
        retryLater(item.message);
        counts.retried += 1;
        continue;
      }
      try {
        counts.d1_round_trips += 1;
        counts.d1_queries += statements.length;
        const results = await db.batch(statements);
        settle(item, (results.at(-1)?.meta.changes ?? 0) > 0, counts, retryLater);
      } catch (eventError) {
        item.completion = {
          eventId: item.completion.eventId,
          status: "failed",
          error: `commit error: ${errorKind(eventError)}`,
        };
        await recordFailure(db, item, leaseOwner, now, counts);
        settle(item, false, counts, retryLater);
      }
    }
    if (deferred > 0) {
      // Give up the deferred events' leases so their redeliveries need not wait for them to expire.
      log.warn("query budget reached; retrying the rest", { deferred, d1_queries: counts.d1_queries });
      counts.d1_round_trips += 1;
      counts.d1_queries += 1;
      await releaseLeases(db, leaseOwner).catch(() => undefined);
    }
  }
  return committed;
}

/** Acks or retries one message once its event's outcome is known. */
function settle(
  item: Work,
  recorded: boolean,
  counts: BatchCounts,
  retryLater: (message: Message<unknown>) => void,
): void {
  const { message, completion } = item;
  if (completion.status === "failed") {
    retryLater(message);
    counts.retried += 1;
    log.warn("event failed; will retry", {
      event_id: completion.eventId,
      attempts: message.attempts,
      error: completion.error,
    });
    return;
  }
  // Not recorded: our lease was taken over (the new holder applies the event), or the combined
  // commit had landed already. Either way this delivery is done.
  if (recorded) counts[completion.status] += 1;
  else counts.duplicates += 1;
  message.ack();
}

/** Best effort: mark an event `failed` with its error after its commit failed (D1 may still be down). */
async function recordFailure(
  db: D1Database,
  item: Work,
  leaseOwner: string,
  now: string,
  counts: BatchCounts,
): Promise<void> {
  try {
    counts.d1_round_trips += 1;
    counts.d1_queries += 1;
    await completeEvent(db, item.completion, leaseOwner, now).run();
  } catch {
    // The lease expires on its own; the retry takes the event over.
  }
}

function logBatch(queue: string, counts: BatchCounts, started: number): void {
  log.info("event batch", { queue, ...counts, duration_ms: Date.now() - started });
}
