import { type Channel, type NotificationSettings, readNotificationSettings } from "../config/notifications";
import { ConfigError } from "../config/read";
import {
  claimNotifications,
  type NotificationRow,
  type Outcome,
  recordOutcome,
  releaseNotification,
  releaseNotificationLeases,
  type SendJob,
  type SendLease,
} from "../db/notifications";
import { optOutPhone } from "../db/patients";
import { retryOnceInPlace } from "../db/retry-once";
import { InjectedFault, maybeFail } from "../faults";
import { errorKind, log } from "../log";
import { type Decision, decide } from "./decide";
import type { Provider, SendResult } from "./providers/provider";
import { type ChannelProvider, providersFor } from "./providers/select";
import { loadSendContext, supersededBy } from "./send-context";

/** How long a sender holds a notification while it calls the provider. */
export const SEND_LEASE_MS = 60_000;

/** One send job as the queue delivered it: `attempts` is the delivery count (1-based). */
export interface QueuedJob {
  job: SendJob;
  attempts: number;
}

/**
 * What to do with a job's queue message: `ack`, or `retry` (after `notBeforeSeconds` at the
 * earliest, when another sender's lease must run out first; otherwise with the queue's backoff).
 */
export type JobVerdict = { action: "ack" } | { action: "retry"; notBeforeSeconds?: number };

/** What one sender run came to, logged as one line by the consumer. */
export interface SenderCounts {
  messages: number;
  sent: number;
  scheduled: number;
  suppressed: number;
  failed: number;
  held: number;
  superseded: number;
  retried: number;
  skipped: number;
}

/** A scheduled SMS's job, to be enqueued again with a delay (its window opening). */
export interface DelayedJob {
  job: SendJob;
  delaySeconds: number;
}

export interface SenderRun {
  /** One verdict per job, in the order given. */
  verdicts: JobVerdict[];
  delayed: DelayedJob[];
  counts: SenderCounts;
}

export interface SenderOptions {
  now?: () => number;
}

const keyOf = (job: SendJob) => `${job.event_id}\n${job.channel}`;

/**
 * The sender: claim every job's outbox row under a lease (one round trip), load patients,
 * opt-outs and order facts (one), decide and call the providers in parallel, record every outcome
 * (one). Transient provider failures retry alone with backoff; SMS outside the send window is
 * recorded `scheduled` and handed back as a delayed job. Touches no queue: the consumer acks,
 * retries and enqueues by the verdicts.
 */
export async function sendNotifications(
  env: Env,
  jobs: readonly QueuedJob[],
  options: SenderOptions = {},
): Promise<SenderRun> {
  const nowMs = options.now?.() ?? Date.now();
  const now = new Date(nowMs);
  const nowIso = now.toISOString();
  const settings = readSettings(env);
  const providers = providersFor(env);
  const counts: SenderCounts = {
    messages: jobs.length,
    sent: 0,
    scheduled: 0,
    suppressed: 0,
    failed: 0,
    held: 0,
    superseded: 0,
    retried: 0,
    skipped: 0,
  };
  const verdicts: JobVerdict[] = jobs.map(() => ({ action: "ack" }));
  const retryAll = (): SenderRun => {
    counts.retried += jobs.length;
    return { verdicts: jobs.map(() => ({ action: "retry" })), delayed: [], counts };
  };

  // A row can be claimed only once the previous lease ran out; the token proves which lease is ours.
  const lease: SendLease = { token: crypto.randomUUID(), expiresAt: nowMs + SEND_LEASE_MS };
  let claimed: Map<string, NotificationRow>;
  let leasedElsewhere: Map<string, number>;
  try {
    const unique = [...new Map(jobs.map(({ job }) => [keyOf(job), job])).values()];
    // A repeat after a lost answer gets its rows back through the lease token.
    const claim = await retryOnceInPlace("notification claim", () => claimNotifications(env.DB, unique, lease, nowMs));
    claimed = new Map(claim.claimed.map((row) => [keyOf(row), row]));
    leasedElsewhere = new Map(claim.leasedElsewhere.map((row) => [keyOf(row), row.lease_expires_at]));
  } catch (error) {
    // Perhaps committed with its answer lost: release what we may hold so the retries need not wait.
    log.warn("notification claim failed", { error: errorKind(error) });
    await releaseNotificationLeases(env.DB, lease).catch(() => undefined);
    return retryAll();
  }

  const work: Claimed[] = [];
  jobs.forEach(({ job }, index) => {
    const row = claimed.get(keyOf(job));
    claimed.delete(keyOf(job));
    const heldUntil = leasedElsewhere.get(keyOf(job));
    if (row) work.push({ index, row });
    else if (heldUntil !== undefined) {
      // Another sender is on it; if it dies, this copy takes over once its lease has run out.
      verdicts[index] = { action: "retry", notBeforeSeconds: Math.max(1, Math.ceil((heldUntil - nowMs) / 1000) + 1) };
      counts.retried += 1;
    } else {
      // Already final, a second copy in this batch, or the job of a stale event (no row).
      counts.skipped += 1;
    }
  });
  if (work.length === 0) return { verdicts, delayed: [], counts };

  let decided: Decided[];
  try {
    decided = await retryOnceInPlace("notification context load", () =>
      decideAll(env.DB, work, settings, providers, now),
    );
  } catch (error) {
    log.warn("notification context load failed", { error: errorKind(error) });
    await env.DB.batch(
      work.map(({ row }) => releaseNotification(env.DB, row.notification_id, "context load failed", lease, nowIso)),
    ).catch(() => undefined);
    for (const { index } of work) verdicts[index] = { action: "retry" };
    counts.retried += work.length;
    return { verdicts, delayed: [], counts };
  }

  // Every provider call of the batch in parallel; the outcomes are recorded together below.
  const attempts: Attempt[] = await Promise.all(
    decided.map(async (item) =>
      item.decision.action === "send"
        ? {
            ...item,
            decision: item.decision,
            result: await callProvider(env, item.decision.provider, item.decision),
          }
        : { ...item, decision: item.decision },
    ),
  );

  const statements: D1PreparedStatement[] = [];
  const delayed: DelayedJob[] = [];
  for (const attempt of attempts) {
    const { index, row } = attempt;
    const ids = { notification_id: row.notification_id, event_id: row.event_id, channel: row.channel, kind: row.kind };
    if ("result" in attempt) {
      const { decision, result } = attempt;
      const provider = decision.provider.name;
      const outcome = outcomeOf(row, decision, result, provider, nowIso);
      if (outcome) statements.push(recordOutcome(env.DB, outcome, lease, nowIso));
      if (result.outcome === "opted_out")
        statements.push(optOutPhone(env.DB, decision.message.to, "twilio_21610", nowIso));
      if (result.outcome === "transient") {
        statements.push(releaseNotification(env.DB, row.notification_id, result.reason, lease, nowIso));
        counts.retried += 1;
        log.warn("notification send failed; will retry", { ...ids, provider, attempts: jobs[index]?.attempts });
        verdicts[index] = { action: "retry" };
      } else {
        if (outcome?.status === "sent") counts.sent += 1;
        else if (outcome?.status === "suppressed") counts.suppressed += 1;
        else counts.failed += 1;
        log.info("notification outcome", { ...ids, provider, status: outcome?.status });
      }
      continue;
    }
    const { decision } = attempt;
    if (decision.action === "supersede") {
      statements.push(
        recordOutcome(
          env.DB,
          { notificationId: row.notification_id, status: "superseded", error: `entity now ${decision.status}` },
          lease,
          nowIso,
        ),
      );
      counts.superseded += 1;
      log.info("notification superseded", { ...ids, entity_status: decision.status });
    } else if (decision.action === "hold") {
      statements.push(
        recordOutcome(
          env.DB,
          { notificationId: row.notification_id, status: "held", error: decision.reason },
          lease,
          nowIso,
        ),
      );
      counts.held += 1;
      log.warn("notification held", { ...ids, reason: decision.reason });
    } else if (decision.action === "suppress") {
      statements.push(
        recordOutcome(
          env.DB,
          { notificationId: row.notification_id, status: "suppressed", error: decision.reason },
          lease,
          nowIso,
        ),
      );
      counts.suppressed += 1;
      log.info("notification suppressed", { ...ids, reason: decision.reason });
    } else if (decision.action === "schedule") {
      statements.push(
        recordOutcome(
          env.DB,
          { notificationId: row.notification_id, status: "scheduled", scheduledFor: decision.opening.toISOString() },
          lease,
          nowIso,
        ),
      );
      delayed.push({ job: { event_id: row.event_id, channel: row.channel }, delaySeconds: decision.delaySeconds });
      counts.scheduled += 1;
      log.info("notification scheduled", {
        ...ids,
        scheduled_for: decision.opening.toISOString(),
        delay_seconds: decision.delaySeconds,
      });
    }
  }

  if (!(await recordAll(env.DB, statements))) {
    // The providers were called but we could not record it: retry, and the lease expiry lets the
    // retry take over. Email carries an idempotency key; an SMS may go out twice (docs: residual risk).
    for (const { index } of work) verdicts[index] = { action: "retry" };
    return { verdicts, delayed: [], counts };
  }
  return { verdicts, delayed, counts };
}

/** A claimed job: its position among the jobs and its outbox row. */
interface Claimed {
  index: number;
  row: NotificationRow;
}

/** A send decision with the channel's provider. */
type SendDecision = Extract<Decision, { action: "send" }> & { provider: Provider };

/** A claimed job with what to do about it. */
interface Decided extends Claimed {
  decision: Exclude<Decision, { action: "send" }> | SendDecision;
}

/** A claimed job after the provider calls: a send carries the provider's answer. */
type Attempt =
  | (Claimed & { decision: Exclude<Decision, { action: "send" }> })
  | (Claimed & { decision: SendDecision; result: SendResult });

/** The notification settings, or the ConfigError's text (variable and problem) that holds every message. */
function readSettings(env: Env): NotificationSettings | { unreadable: string } {
  try {
    return readNotificationSettings(env);
  } catch (error) {
    if (error instanceof ConfigError) return { unreadable: error.message };
    throw error;
  }
}

/**
 * Loads what the decisions need in one round trip, then decides each claimed job. A job whose
 * settings or channel provider cannot be read is held with the reason, before anything else.
 */
async function decideAll(
  db: D1Database,
  work: readonly Claimed[],
  settings: NotificationSettings | { unreadable: string },
  providers: Record<Channel, ChannelProvider>,
  now: Date,
): Promise<Decided[]> {
  if ("unreadable" in settings)
    return work.map((claimed) => ({ ...claimed, decision: { action: "hold", reason: settings.unreadable } }));
  const context = await loadSendContext(
    db,
    work.map(({ row }) => row),
  );
  return work.map(({ index, row }): Decided => {
    const channel = providers[row.channel];
    if ("held" in channel) return { index, row, decision: { action: "hold", reason: channel.held } };
    const movedOnTo = supersededBy(row, context);
    if (movedOnTo !== null) return { index, row, decision: { action: "supersede", status: movedOnTo } };
    const decision = decide(
      row,
      context.patients.get(row.patient_id),
      context.optedOutPhones,
      context.orders.get(row.entity_id),
      settings,
      now,
    );
    return {
      index,
      row,
      decision: decision.action === "send" ? { ...decision, provider: channel.provider } : decision,
    };
  });
}

async function callProvider(env: Env, provider: Provider, decision: SendDecision): Promise<SendResult> {
  try {
    maybeFail(env, "notification provider");
    return await provider.send(decision.message);
  } catch (error) {
    // A provider that throws (or an injected fault) is treated as transient: the retry decides.
    return {
      outcome: "transient",
      reason: error instanceof InjectedFault ? "injected fault" : `provider error: ${errorKind(error)}`,
    };
  }
}

function outcomeOf(
  row: NotificationRow,
  decision: SendDecision,
  result: SendResult,
  provider: string,
  now: string,
): Outcome | null {
  switch (result.outcome) {
    case "sent":
      return {
        notificationId: row.notification_id,
        status: "sent",
        provider,
        providerMessageId: result.providerMessageId,
        rendered: decision.rendered,
        sentAt: now,
      };
    case "permanent":
      return { notificationId: row.notification_id, status: "failed", provider, error: result.reason };
    case "opted_out":
      return {
        notificationId: row.notification_id,
        status: "suppressed",
        provider,
        error: `opted out: ${result.reason}`,
      };
    default:
      return null;
  }
}

/**
 * Records outcomes, trying once more on a failure: a provider was already called for them. Safe to
 * repeat: every statement is guarded by our lease token, so a first try that landed changes nothing.
 */
async function recordAll(db: D1Database, statements: D1PreparedStatement[]): Promise<boolean> {
  if (statements.length === 0) return true;
  try {
    await retryOnceInPlace("notification outcome record", () => db.batch(statements));
    return true;
  } catch (error) {
    log.warn("notification outcomes not recorded", { error: errorKind(error) });
    return false;
  }
}
