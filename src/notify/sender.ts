import { readSenderDefaults } from "../config/clinics";
import { phoneOutcomeStatements } from "../consent/phone-outcomes";
import { unsubscribeLinksOf } from "../consent/unsubscribe-links";
import type { OutboxKey } from "../db/notification-outbox";
import {
  markSendStarted,
  type Outcome,
  readNotifications,
  recordOutcome,
  releaseAdopters,
  releaseNotification,
  type SendLease,
  type Taking,
} from "../db/notification-sends";
import { recordSmsOptOut } from "../db/patients";
import { retryOnceInPlace } from "../db/retry-once";
import { errorKind, log } from "../log";
import { leaseCovers, newLease } from "../outbox/lease";
import { type ConnectionLimit, connectionLimit } from "./connection-limit";
import { decideAll, readSettings, soleClinicOf } from "./decide-all";
import {
  adoptOwnMessages,
  type Decided,
  type JobRow,
  lookUpEarlierAttempt,
  type SendDecision,
  type SenderDecision,
} from "./earlier-attempt";
import { outcomeOfDecision, outcomeOfResult, outcomeWriter } from "./outcomes";
import { PROVIDER_TIMEOUT_MS, type Provider, type SendResult, sendAttemptOf } from "./providers/provider";
import { providersFor } from "./providers/select";
import { type QueuedJob, type Run, type SenderRun, startRun } from "./sender-run";

export type { DelayedJob, JobVerdict, QueuedJob, SenderCounts, SenderRun } from "./sender-run";

/** How long a sender holds a notification while it calls the provider. */
export const SEND_LEASE_MS = 60_000;

/** Time kept in a lease, after a provider call's timeout, to record the answer. */
const RECORD_MARGIN_MS = 5_000;

export interface SenderOptions {
  now?: () => number;
}

const keyOf = (job: OutboxKey) => `${job.event_id}\n${job.channel}`;

/** What every phase of one run shares: the env, the run's tallies, its lease, its clock and connections. */
interface Phase {
  env: Env;
  run: Run;
  lease: SendLease;
  clock: () => number;
  withConnection: ConnectionLimit;
  /** Records provider answers: those arriving together share a write. */
  write: ReturnType<typeof outcomeWriter>;
}

/** A decided job about to be sent. */
type Send = Decided & { decision: SendDecision };

/**
 * The sender: read every job's outbox row (one round trip, no write); load patients, opt-outs,
 * order facts and entity statuses (one) and decide each; look up earlier attempts of unknown outcome
 * at the provider; record every outcome that needs no call together with a send mark on each row
 * about to be sent (one), each taking its row under the run's lease unless another sender took it
 * since the read (so a row costs no claim write of its own); call the providers in parallel and
 * record each answer as soon as it returns (answers arriving together share a write). Failed and unknown sends retry alone with
 * backoff; SMS outside the send window is recorded `scheduled` and handed back as a delayed job.
 * Touches no queue: the consumer acks, retries and enqueues by the verdicts.
 */
export async function sendNotifications(
  env: Env,
  jobs: readonly QueuedJob[],
  options: SenderOptions = {},
): Promise<SenderRun> {
  const clock = () => options.now?.() ?? Date.now();
  const run = startRun(jobs, clock());
  const settings = readSettings(env);
  const providers = providersFor(env);
  // A row can be taken only once the previous lease ran out; the token proves which lease is ours.
  const lease = newLease(run.nowMs, SEND_LEASE_MS);
  // Every provider call of this run (lookups and sends) holds one of the runtime's 6 connections.
  const phase: Phase = { env, run, lease, clock, withConnection: connectionLimit(), write: outcomeWriter(env.DB) };

  const work = await readJobs(phase);
  if (work.length === 0) return run.result();
  const decided = await decideJobs(phase, work, (db) =>
    decideAll(
      db,
      work,
      settings,
      providers,
      run.now,
      readSenderDefaults(env),
      soleClinicOf(env),
      unsubscribeLinksOf(env),
    ),
  );
  if (decided === null) return run.result();
  // An earlier attempt whose outcome is unknown may have reached the patient: ask first.
  const settled = await adoptOwnMessages(
    env.DB,
    await Promise.all(decided.map((item) => lookUpEarlierAttempt(item, phase.withConnection))),
  );
  const sends = await recordBeforeSend(phase, work, settled);
  if (sends === null) return run.result();
  await Promise.all(sends.map((send) => callAndRecord(phase, send)));
  return run.result();
}

/**
 * Reads each job's row (one statement, no write): each is taken later by its first write, under the
 * lease (see {@link readNotifications}). A job whose row another sender holds waits for that lease;
 * one already final, repeated in the batch, or without a row is skipped. A failed read retries all.
 */
async function readJobs({ env, run }: Phase): Promise<JobRow[]> {
  let free: Map<string, JobRow["row"]>;
  let leasedElsewhere: Map<string, number>;
  try {
    const unique = [...new Map(run.jobs.map(({ job }) => [keyOf(job), job])).values()];
    const result = await retryOnceInPlace("notification read", () => readNotifications(env.DB, unique, run.nowMs));
    free = new Map(result.free.map((row) => [keyOf(row), row]));
    leasedElsewhere = new Map(result.leasedElsewhere.map((row) => [keyOf(row), row.lease_expires_at]));
  } catch (error) {
    log.warn("notification read failed", { error: errorKind(error) });
    for (const index of run.jobs.keys()) run.retry(index);
    return [];
  }
  const work: JobRow[] = [];
  run.jobs.forEach(({ job }, index) => {
    const row = free.get(keyOf(job));
    free.delete(keyOf(job));
    const heldUntil = leasedElsewhere.get(keyOf(job));
    if (row) work.push({ index, row });
    // Another sender is on it; if it dies, this copy takes over once its lease has run out.
    else if (heldUntil !== undefined) run.waitFor(index, Math.max(1, Math.ceil((heldUntil - run.nowMs) / 1000) + 1));
    // Already final, a second copy in this batch, or the job of a stale event (no row).
    else run.count("skipped");
  });
  return work;
}

/** How the first write on a row read by this run takes it: only if no other sender took it since. */
function takingOf(run: Run, row: JobRow["row"]): Taking {
  return { attempts: row.attempts, token: row.lease_token, nowMs: run.nowMs };
}

/** Loads what the decisions need (one round trip) and decides each job; null when the load failed. */
async function decideJobs(
  phase: Phase,
  work: readonly JobRow[],
  decideEach: (db: D1Database) => Promise<Decided[]>,
): Promise<Decided[] | null> {
  try {
    return await retryOnceInPlace("notification context load", () => decideEach(phase.env.DB));
  } catch (error) {
    log.warn("notification context load failed", { error: errorKind(error) });
    await giveBack(phase, work, "context load failed");
    return null;
  }
}

/**
 * One write before any provider call: every outcome that needs no call, and a mark on each row
 * about to be sent (with its text), so a lost answer is looked up instead of sent again. Each takes
 * its row under the lease (the mark holds it through the call); a row another sender took since our
 * read answers `changes = 0` and is left to it. Returns the jobs to send, or null when the write
 * failed (every job then retries).
 */
async function recordBeforeSend(phase: Phase, work: readonly JobRow[], decided: Decided[]): Promise<Send[] | null> {
  const { env, run, lease } = phase;
  const statements = decided.map(({ row, decision, index }) =>
    decision.action === "send"
      ? markSendStarted(
          env.DB,
          row.notification_id,
          decision.rendered,
          sendAttemptOf(decision.message),
          decision.toldTrackingNumber,
          lease,
          run.nowIso,
          takingOf(run, row),
          decision.locale,
        )
      : decision.action === "retry_later"
        ? releaseNotification(
            env.DB,
            row.notification_id,
            decision.reason,
            lease,
            run.nowIso,
            run.retryAt(index),
            true,
            takingOf(run, row),
          )
        : recordOutcome(env.DB, outcomeFor(row, decision), lease, run.nowIso, takingOf(run, row)),
  );
  let results: D1Result[];
  let tries = 0;
  try {
    results = await retryOnceInPlace("notification outcome record", () => {
      tries += 1;
      return env.DB.batch(statements);
    });
  } catch (error) {
    log.warn("notification outcomes not recorded", { error: errorKind(error) });
    await giveBack(phase, work, "outcome record failed");
    return null;
  }
  const sends: Send[] = [];
  decided.forEach((item, position) => {
    // A give-back whose batch had to be repeated may have applied on the try whose answer was lost:
    // it clears our token, so its repeat changes nothing. That is ours, not another sender's take.
    const taken = (results[position]?.meta.changes ?? 0) > 0 || (item.decision.action === "retry_later" && tries > 1);
    if (!taken && item.decision.action === "recovered") {
      // Another sender took the row since our read, or another notification recorded the message
      // found (the same text to the same number, settled at the same time): the retry looks again.
      run.retry(item.index);
      log.warn("notification's message not adopted; will look again", idsOf(item.row));
    } else if (!taken) {
      // Another sender took the row since our read: it carries on, we send nothing.
      run.retry(item.index, "lease_lost");
      log.warn("notification lease lost", idsOf(item.row));
    } else if (item.decision.action === "send") sends.push({ ...item, decision: item.decision });
    else tallyDecision(run, item);
  });
  return sends;
}

/** Tallies and logs a decision recorded without a provider call. */
function tallyDecision(run: Run, { index, row, decision }: Decided): void {
  const ids = idsOf(row);
  switch (decision.action) {
    case "recovered":
      run.count("recovered");
      log.info("notification found at the provider; not sent again", { ...ids, provider: decision.provider });
      return;
    case "retry_later":
      run.retry(index);
      log.warn("notification waits; will retry", { ...ids, reason: decision.reason });
      return;
    case "hold":
      run.count("held");
      log.warn("notification held", { ...ids, reason: decision.reason });
      return;
    case "supersede":
      run.count("superseded");
      log.info("notification superseded", { ...ids, entity_status: decision.status });
      return;
    case "suppress":
      run.count("suppressed");
      log.info("notification suppressed", { ...ids, reason: decision.reason });
      return;
    case "schedule":
      run.delay({ job: { event_id: row.event_id, channel: row.channel }, delaySeconds: decision.delaySeconds });
      log.info("notification scheduled", {
        ...ids,
        scheduled_for: decision.opening.toISOString(),
        delay_seconds: decision.delaySeconds,
      });
  }
}

/** Calls the provider for one job and records its answer as soon as it returns. */
async function callAndRecord(phase: Phase, { index, row, decision }: Send): Promise<void> {
  const { env, run, lease, clock } = phase;
  const ids = idsOf(row);
  const provider = decision.provider.name;
  const result = await phase.withConnection(async (): Promise<SendResult> => {
    // A call that could outlive our lease would race the sender that takes the row over next
    // (calls wait here for a connection): leave it, with its send mark, to the retry.
    if (!leaseCovers(lease, clock(), PROVIDER_TIMEOUT_MS, RECORD_MARGIN_MS))
      return { outcome: "unknown", reason: "lease too short for the call; not called" };
    return callProvider(decision.provider, decision);
  });
  // The duplicate-SMS window: from the provider's answer to our record of it (logged as record_ms).
  const answered = Date.now();
  const answeredAt = new Date(clock()).toISOString();
  const outcome = outcomeOfResult(row, result, provider, answeredAt);
  // The message our call created is ours, whether or not our lease still holds the row: a notification
  // that adopted it since the answer looks again. Only a provider with a lookup (Twilio) has adoptions.
  const sentId = outcome?.status === "sent" && decision.provider.find ? outcome.providerMessageId : null;
  const statements = outcome
    ? [
        recordOutcome(env.DB, outcome, lease, answeredAt),
        ...(sentId ? [releaseAdopters(env.DB, row.notification_id, sentId, answeredAt)] : []),
      ]
    : [
        releaseNotification(
          env.DB,
          row.notification_id,
          reasonOf(result),
          lease,
          answeredAt,
          run.retryAt(index),
          result.outcome === "unknown",
        ),
      ];
  if (result.outcome === "opted_out") {
    // Twilio's 21610: the patient opted out of this sender, so of its clinics' texts only.
    const sender = decision.message.sender;
    statements.push(recordSmsOptOut(env.DB, decision.message.to, sender?.smsKey ?? null, "twilio_21610", answeredAt));
  }
  // Twilio's verdict on the number itself (21211 invalid, 21614 not a mobile): no further SMS to it.
  if (result.outcome === "permanent" && result.code !== undefined)
    statements.push(
      ...phoneOutcomeStatements(env.DB, row.notification_id, decision.message.to, result.code, answeredAt),
    );
  const written = await phase.write(statements);
  // The provider answered but D1 could not record it: retry; the row keeps its send mark, so the
  // retry asks the provider before sending again.
  if (written === null) {
    run.retry(index);
    return;
  }
  if (sentId && (written[1]?.meta.changes ?? 0) > 0)
    log.warn("notification's message was adopted by another; that one will look again", { ...ids, provider });
  if (outcome && (written[0]?.meta.changes ?? 0) === 0) {
    // Our lease was taken over while the provider answered: never ack this job as sent.
    run.retry(index, "lease_lost");
    log.warn("notification lease lost after the provider answered", { ...ids, provider });
    return;
  }
  if (!outcome) {
    run.retry(index);
    if (result.outcome === "unknown") run.count("unknown");
    log.warn("notification send failed; will retry", {
      ...ids,
      provider,
      outcome: result.outcome,
      attempts: run.jobs[index]?.attempts,
    });
    return;
  }
  run.count(outcome.status === "sent" ? "sent" : outcome.status === "suppressed" ? "suppressed" : "failed");
  log.info("notification outcome", { ...ids, provider, status: outcome.status, record_ms: Date.now() - answered });
}

function idsOf(row: JobRow["row"]) {
  return { notification_id: row.notification_id, event_id: row.event_id, channel: row.channel, kind: row.kind };
}

function outcomeFor(
  row: JobRow["row"],
  decision: Exclude<SenderDecision, SendDecision | { action: "retry_later" }>,
): Outcome {
  if (decision.action === "recovered")
    return {
      notificationId: row.notification_id,
      status: "sent",
      provider: decision.provider,
      providerMessageId: decision.providerMessageId,
      rendered: decision.rendered,
      sentAt: row.send_started_at,
      adopted: true,
    };
  return outcomeOfDecision(row, decision);
}

/**
 * Notes on the rows read (status unchanged, unless another sender took one since) why they wait and
 * when their retry is due, so the sweep leaves them to it; every job retries.
 */
async function giveBack({ env, run, lease }: Phase, work: readonly JobRow[], reason: string): Promise<void> {
  await env.DB.batch(
    work.map(({ index, row }) =>
      releaseNotification(
        env.DB,
        row.notification_id,
        reason,
        lease,
        run.nowIso,
        run.retryAt(index),
        true,
        takingOf(run, row),
      ),
    ),
  ).catch(() => undefined);
  for (const { index } of work) run.retry(index);
}

function reasonOf(result: SendResult): string {
  return "reason" in result ? result.reason : result.outcome;
}

async function callProvider(provider: Provider, decision: SendDecision): Promise<SendResult> {
  try {
    return await provider.send(decision.message);
  } catch (error) {
    // A provider that throws is treated as transient: the retry decides.
    return { outcome: "transient", reason: `provider error: ${errorKind(error)}` };
  }
}
