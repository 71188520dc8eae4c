import { retryDelaySeconds } from "../backoff";
import { readBatchThen } from "../db/batch";
import type { WriteGuard } from "../db/entities";
import {
  type ClaimedRow,
  type ClaimRequest,
  type Completion,
  countConflicts,
  type EventStatus,
  RECORD_QUERIES,
  readRecorded,
  recordEvent,
  releaseToken,
} from "../db/events";
import { applyEvent, type ChangeListener, type EntityChange } from "../events/handlers";
import { parseEvent } from "../events/schemas";
import { futureTimestampWarning } from "../events/timestamp";
import { errorKind, log } from "../log";
import { guardEntityClinics } from "./clinic-guard";
import { claimRequestOf, type ReadEventMessage, readEventMessage } from "./event-message";

/**
 * D1 queries (each statement of a `db.batch` counts) one invocation may spend before the one-by-one
 * fallback commit stops and retries the rest: D1 allows 1,000 per invocation. A batch of 100 costs a
 * few per event in its one commit; the budget leaves the fallback room for most of a batch and the
 * whole invocation well under the limit.
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
 * What the row of a delivery's event, read after the batch that recorded it, means for the delivery:
 * - `ours`: this attempt's record took the event (its token is on the row), so its outcome and
 *   effects committed (only the first copy of an id within a batch is recorded; the others are
 *   duplicates of it);
 * - `conflict`: the stored event with this id has different content; kept out, never applied;
 * - `duplicate`: already finished, or a second copy in this batch; the first carries the effects;
 * - `leased_elsewhere`: held by a live lease of the release before, or not recorded (a copy of an id
 *   the first copy could not take); come back once it will have run out.
 */
type RecordOutcome =
  | { kind: "ours" }
  | { kind: "conflict" }
  | { kind: "duplicate" }
  | { kind: "leased_elsewhere"; leaseExpiresAt: number | null };

const FINISHED: readonly EventStatus[] = ["processed", "ignored", "invalid"];

/** Classifies one delivery by its event's row as read after the batch that recorded it. */
function classifyRecord(row: ClaimedRow | undefined, read: ReadEventMessage, token: string): RecordOutcome {
  if (row && row.payload_hash !== read.payloadHash) return { kind: "conflict" };
  if (row && row.lease_owner === token) return { kind: "ours" };
  if (row && FINISHED.includes(row.status)) return { kind: "duplicate" };
  return { kind: "leased_elsewhere", leaseExpiresAt: row?.lease_expires_at ?? null };
}

/** A delivery of an id whose first copy in the batch carries the event. */
interface Copy {
  message: Message<unknown>;
  read: ReadEventMessage;
}

/** What the first copy of an id came to within a batch; decides ack or retry. */
interface Work extends Copy {
  request: ClaimRequest;
  completion: Completion;
  change?: EntityChange;
  statements: D1PreparedStatement[];
}

/** How a batch settles its deliveries once their rows are known. */
interface Settlement {
  token: string;
  attemptTime: number;
  counts: BatchCounts;
  policy: RetryPolicy;
  retries: Retry[];
  committed: EntityChange[];
}

/**
 * The `novamed-events` consumer. Per batch, in two D1 round trips whatever its size: one read of the
 * clinics of the entities the batch touches, then one `db.batch` that records each event with its
 * outcome under this attempt's token, its effects (each guarded by the token), the conflict count and
 * a read of the rows; then acknowledge. Duplicates and same-id conflicts are acked without effects; a
 * message whose handler threw is retried alone with backoff; the rest are acked.
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

  const work: Work[] = [];
  const copies: Copy[] = [];
  const attemptTime = now();
  const token = crypto.randomUUID();
  const guard: WriteGuard = { leaseOwner: token, now: new Date(attemptTime).toISOString() };
  const firstCopies = new Set<string>();
  for (const message of batch.messages) {
    const read = await readEventMessage(message.body);
    if (!read) {
      counts.poison += 1;
      log.error("event message unreadable", { queue: batch.queue, message_id: message.id });
      message.ack();
    } else if (firstCopies.has(read.envelope.event_id)) copies.push({ message, read });
    else {
      firstCopies.add(read.envelope.event_id);
      work.push(buildWork(env.DB, message, read, guard, listeners, policy));
    }
  }
  if (work.length === 0) return logBatch(batch.queue, counts, started);

  const settlement: Settlement = { token, attemptTime, counts, policy, retries: [], committed: [] };
  counts.d1_round_trips += await guardEntityClinics(env.DB, work, guard);
  const rows = await commit(env.DB, work, copies, settlement);
  for (const copy of copies) {
    const row = rows.get(copy.read.envelope.event_id);
    // A copy whose first copy's batch failed: its redelivery finds out what became of the event.
    if (row === undefined) retry(settlement, copy.message, policy.delaySeconds(copy.message.attempts));
    else {
      const outcome = classifyRecord(row, copy.read, token);
      settle(settlement, copy, outcome.kind === "ours" ? { kind: "duplicate" } : outcome);
    }
  }
  await policy.send(settlement.retries);
  for (const listener of listeners) {
    if (!listener.afterCommit || settlement.committed.length === 0) continue;
    try {
      await listener.afterCommit(settlement.committed, env);
    } catch (error) {
      // The effects are committed; a listener's own recovery (e.g. the outbox sweep) picks this up.
      log.error("after-commit listener failed", { queue: batch.queue, error: errorKind(error) });
    }
  }
  logBatch(batch.queue, counts, started);
}

/** Builds one event's record, effects and outcome; a handler that throws yields a `failed` outcome. */
function buildWork(
  db: D1Database,
  message: Message<unknown>,
  read: ReadEventMessage,
  guard: WriteGuard,
  listeners: readonly ChangeListener[],
  policy: RetryPolicy,
): Work {
  const eventId = read.envelope.event_id;
  const request = claimRequestOf(read);
  const parsed = parseEvent(read.envelope);
  if (parsed.kind === "unknown_type")
    return { message, read, request, completion: { eventId, status: "ignored" }, statements: [] };
  if (parsed.kind === "invalid") {
    return {
      message,
      read,
      request,
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
      request,
      completion: { eventId, status: "processed", warnings },
      change,
      statements: change.statements,
    };
  } catch (error) {
    return {
      message,
      read,
      request,
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
 * Commits every event's record, effects and outcome in one `db.batch`, with the conflict count and a
 * read of the rows last. If that batch fails, each event is committed on its own so one failing event
 * cannot hold back the others; only failures retry. Settles each event's first copy and answers the
 * rows read, by event id, for its other copies.
 */
async function commit(
  db: D1Database,
  work: Work[],
  copies: readonly Copy[],
  settlement: Settlement,
): Promise<Map<string, ClaimedRow>> {
  const { token, attemptTime, counts } = settlement;
  const rows = new Map<string, ClaimedRow>();
  const statementsOf = (item: Work) => [
    ...recordEvent(db, item.request, item.completion, token, attemptTime),
    ...item.statements,
  ];
  const requests = [...work.map((item) => item.request), ...copies.map((copy) => claimRequestOf(copy.read))];
  let recorded: ClaimedRow[] | undefined;
  try {
    const statements = [...work.flatMap(statementsOf), countConflicts(db, requests)];
    counts.d1_round_trips += 1;
    counts.d1_queries += statements.length + 1;
    ({ last: recorded } = await readBatchThen(
      db,
      statements,
      readRecorded(
        db,
        work.map((item) => item.request.eventId),
      ),
    ));
  } catch (error) {
    log.warn("batch commit failed; committing events one by one", { events: work.length, error: errorKind(error) });
  }
  if (recorded) {
    for (const row of recorded) rows.set(row.event_id, row);
    for (const item of work) {
      if (settleWork(settlement, item, rows.get(item.request.eventId)) && item.change)
        settlement.committed.push(item.change);
    }
    return rows;
  }
  let deferred = 0;
  for (const item of work) {
    // The failed combined commit may have landed with only its answer lost, and a redelivery would
    // then find the event processed and skip it. So its follow-ups (send jobs) run in any case: for
    // an event that did not commit they find no outbox row and do nothing.
    if (item.change) settlement.committed.push(item.change);
    const eventId = item.request.eventId;
    // This event's batch (the token's release, its record and effects, the conflict count, the read)
    // and its failure record must fit the budget; otherwise it waits for a redelivery (a new
    // invocation, a new budget).
    const queries = 1 + RECORD_QUERIES + item.statements.length + 2;
    if (counts.d1_queries + queries + 1 + RECORD_QUERIES > D1_QUERY_BUDGET) {
      deferred += 1;
      retry(settlement, item.message, settlement.policy.delaySeconds(item.message.attempts));
      continue;
    }
    try {
      // Under the same token as the combined commit, so first clear it from the event in case that
      // commit landed: only this batch's own record can then give the effects the token they check.
      const statements = [
        releaseToken(db, eventId, token),
        ...statementsOf(item),
        countConflicts(
          db,
          requests.filter((request) => request.eventId === eventId),
        ),
      ];
      counts.d1_round_trips += 1;
      counts.d1_queries += queries;
      const { last } = await readBatchThen(db, statements, readRecorded(db, [eventId]));
      const row = last[0];
      if (row) rows.set(eventId, row);
      settleWork(settlement, item, row);
    } catch (eventError) {
      item.completion = { eventId, status: "failed", error: `commit error: ${errorKind(eventError)}` };
      await recordFailure(db, item, settlement);
      retryFailed(settlement, item);
    }
  }
  if (deferred > 0) log.warn("query budget reached; retrying the rest", { deferred, d1_queries: counts.d1_queries });
  return rows;
}

/**
 * Settles an event's first copy by its row as read after the batch that recorded it; answers whether
 * this attempt took the event (its outcome and effects committed).
 */
function settleWork(settlement: Settlement, item: Work, row: ClaimedRow | undefined): boolean {
  const outcome = classifyRecord(row, item.read, settlement.token);
  const { completion } = item;
  if (outcome.kind !== "ours") settle(settlement, item, outcome);
  else if (completion.status === "failed") retryFailed(settlement, item);
  else {
    settlement.counts[completion.status] += 1;
    item.message.ack();
  }
  return outcome.kind === "ours";
}

/** Logs an event whose handler or commit failed (its error kind, never values) and retries it. */
function retryFailed(settlement: Settlement, { message, completion }: Work): void {
  log.warn("event failed; will retry", {
    event_id: completion.eventId,
    attempts: message.attempts,
    error: completion.error,
  });
  retry(settlement, message, settlement.policy.delaySeconds(message.attempts));
}

/** Acks or retries a delivery whose event this attempt did not take. */
function settle(settlement: Settlement, delivery: Copy, outcome: Exclude<RecordOutcome, { kind: "ours" }>): void {
  const { message, read } = delivery;
  if (outcome.kind === "conflict") {
    settlement.counts.conflicts += 1;
    log.warn("event id conflict", { event_id: read.envelope.event_id, event_type: read.envelope.event_type });
    message.ack();
  } else if (outcome.kind === "duplicate") {
    settlement.counts.duplicates += 1;
    message.ack();
  } else {
    const { leaseExpiresAt } = outcome;
    const leaseLeft = leaseExpiresAt ? Math.ceil((leaseExpiresAt - settlement.attemptTime) / 1000) : 0;
    retry(settlement, message, Math.max(leaseLeft + 1, settlement.policy.delaySeconds(message.attempts)));
  }
}

function retry(settlement: Settlement, message: Message<unknown>, delaySeconds: number): void {
  settlement.retries.push({ message, delaySeconds });
  settlement.counts.retried += 1;
}

/**
 * Best effort: record an event `failed` with its error after its commit failed (D1 may still be
 * down), so it is stored and shown; its retry takes it again. The token is cleared first, since the
 * failed batch may have landed (then the event is finished and the record changes nothing).
 */
async function recordFailure(db: D1Database, item: Work, settlement: Settlement): Promise<void> {
  const { token, attemptTime, counts } = settlement;
  try {
    counts.d1_round_trips += 1;
    counts.d1_queries += 1 + RECORD_QUERIES;
    await db.batch([
      releaseToken(db, item.request.eventId, token),
      ...recordEvent(db, item.request, item.completion, token, attemptTime),
    ]);
  } catch {
    // Its redelivery records it.
  }
}

function logBatch(queue: string, counts: BatchCounts, started: number): void {
  log.info("event batch", { queue, ...counts, duration_ms: Date.now() - started });
}
