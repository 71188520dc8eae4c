import { type Channel, type NotificationSettings, readNotificationSettings } from "../config/notifications";
import { type OrderFacts, selectOrderFacts } from "../db/entities";
import {
  claimNotifications,
  type NotificationRow,
  type Outcome,
  readSendJob,
  recordOutcome,
  releaseNotification,
  releaseNotificationLeases,
  type SendJob,
  type SendLease,
} from "../db/notifications";
import {
  optOutPhone,
  type Patient,
  selectOptedOutPhones,
  selectPatients,
  toPatient,
  toPatientRow,
} from "../db/patients";
import { errorKind, log } from "../log";
import { type Decision, decide } from "../notify/decide";
import { logProvider } from "../notify/providers/log";
import type { Provider, SendResult } from "../notify/providers/provider";
import { resendProvider } from "../notify/providers/resend";
import { twilioProvider } from "../notify/providers/twilio";
import { retryDelaySeconds } from "./backoff";
import { retryOnceInPlace } from "./retry-once";

/** How long a sender holds a notification while it calls the provider. */
export const SEND_LEASE_MS = 60_000;

export type Providers = Record<Channel, Provider>;

/** Twilio and Resend when their credentials are set; the log provider otherwise. */
export function providersFor(settings: NotificationSettings): Providers {
  return {
    sms: settings.twilio ? twilioProvider(settings.twilio) : logProvider,
    email: settings.email ? resendProvider(settings.email) : logProvider,
  };
}

export interface SenderOptions {
  providers?: Providers;
  now?: () => number;
}

interface Job {
  message: Message<unknown>;
  job: SendJob;
}

const keyOf = (job: SendJob) => `${job.event_id}\n${job.channel}`;

/**
 * The `patient-notifications` consumer: claim every job's outbox row under a lease (one round
 * trip), load patients, opt-outs and order facts (one), decide and call the providers in parallel,
 * record every outcome (one). Transient provider failures retry alone with backoff; SMS outside the
 * send window is re-enqueued with a delay and recorded `scheduled`.
 */
export async function consumeNotifications(
  batch: MessageBatch<unknown>,
  env: Env,
  options: SenderOptions = {},
): Promise<void> {
  const started = Date.now();
  const nowMs = options.now?.() ?? Date.now();
  const now = new Date(nowMs);
  const nowIso = now.toISOString();
  const settings = readNotificationSettings(env);
  const providers = options.providers ?? providersFor(settings);
  const counts = {
    messages: batch.messages.length,
    sent: 0,
    scheduled: 0,
    suppressed: 0,
    failed: 0,
    retried: 0,
    skipped: 0,
  };

  const jobs: Job[] = [];
  for (const message of batch.messages) {
    const job = readSendJob(message.body);
    if (job) jobs.push({ message, job });
    else {
      log.error("notification job unreadable", { queue: batch.queue, message_id: message.id });
      message.ack();
    }
  }

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
    log.warn("notification claim failed", { queue: batch.queue, error: errorKind(error) });
    await releaseNotificationLeases(env.DB, lease).catch(() => undefined);
    for (const { message } of jobs) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    return;
  }

  const work: { message: Message<unknown>; row: NotificationRow }[] = [];
  for (const { message, job } of jobs) {
    const row = claimed.get(keyOf(job));
    claimed.delete(keyOf(job));
    const heldUntil = leasedElsewhere.get(keyOf(job));
    if (row) work.push({ message, row });
    else if (heldUntil !== undefined) {
      // Another sender is on it; if it dies, this copy takes over once its lease has run out.
      message.retry({ delaySeconds: Math.max(1, Math.ceil((heldUntil - nowMs) / 1000) + 1) });
      counts.retried += 1;
    } else {
      // Already final, a second copy in this batch, or the job of a stale event (no row).
      counts.skipped += 1;
      message.ack();
    }
  }
  if (work.length === 0) return logBatch(batch.queue, counts, started);

  let decided: Decided[];
  try {
    decided = await retryOnceInPlace("notification context load", () => decideAll(env.DB, work, settings, now));
  } catch (error) {
    log.warn("notification context load failed", { queue: batch.queue, error: errorKind(error) });
    await env.DB.batch(
      work.map(({ row }) => releaseNotification(env.DB, row.notification_id, "context load failed", lease, nowIso)),
    ).catch(() => undefined);
    for (const { message } of work) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    return;
  }

  // Every provider call of the batch in parallel; the outcomes are recorded together below.
  const attempts: Attempt[] = await Promise.all(
    decided.map(async ({ message, row, decision }) =>
      decision.action === "send"
        ? { message, row, decision, result: await callProvider(providers[row.channel], decision) }
        : { message, row, decision },
    ),
  );

  const statements: D1PreparedStatement[] = [];
  const delayed: { body: SendJob; contentType: "json"; delaySeconds: number }[] = [];
  const settle: (() => void)[] = [];
  for (const attempt of attempts) {
    const { message, row } = attempt;
    const ids = { notification_id: row.notification_id, event_id: row.event_id, channel: row.channel, kind: row.kind };
    if ("result" in attempt) {
      const { decision, result } = attempt;
      const provider = providers[row.channel].name;
      const outcome = outcomeOf(row, decision, result, provider, nowIso);
      if (outcome) statements.push(recordOutcome(env.DB, outcome, lease, nowIso));
      if (result.outcome === "opted_out")
        statements.push(optOutPhone(env.DB, decision.message.to, "twilio_21610", nowIso));
      if (result.outcome === "transient") {
        statements.push(releaseNotification(env.DB, row.notification_id, result.reason, lease, nowIso));
        counts.retried += 1;
        log.warn("notification send failed; will retry", { ...ids, provider, attempts: message.attempts });
        settle.push(() => message.retry({ delaySeconds: retryDelaySeconds(message.attempts) }));
      } else {
        if (outcome?.status === "sent") counts.sent += 1;
        else if (outcome?.status === "suppressed") counts.suppressed += 1;
        else counts.failed += 1;
        log.info("notification outcome", { ...ids, provider, status: outcome?.status });
        settle.push(() => message.ack());
      }
      continue;
    }
    const { decision } = attempt;
    if (decision.action === "suppress") {
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
      settle.push(() => message.ack());
    } else if (decision.action === "schedule") {
      statements.push(
        recordOutcome(
          env.DB,
          { notificationId: row.notification_id, status: "scheduled", scheduledFor: decision.opening.toISOString() },
          lease,
          nowIso,
        ),
      );
      delayed.push({
        body: { event_id: row.event_id, channel: row.channel },
        contentType: "json",
        delaySeconds: decision.delaySeconds,
      });
      counts.scheduled += 1;
      log.info("notification scheduled", {
        ...ids,
        scheduled_for: decision.opening.toISOString(),
        delay_seconds: decision.delaySeconds,
      });
      settle.push(() => message.ack());
    }
  }

  if (!(await recordAll(env.DB, statements))) {
    // The providers were called but we could not record it: retry, and the lease expiry lets the
    // retry take over. Email carries an idempotency key; an SMS may go out twice (README: residual risk).
    for (const { message } of work) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    return logBatch(batch.queue, counts, started);
  }
  if (delayed.length > 0) {
    // If this fails the rows stay `scheduled` and the sweep enqueues them once their window opens.
    await env.NOTIFICATIONS.sendBatch(delayed).catch((error: unknown) =>
      log.error("scheduled enqueue failed; the sweep will retry", { jobs: delayed.length, error: errorKind(error) }),
    );
  }
  for (const apply of settle) apply();
  logBatch(batch.queue, counts, started);
}

/** A claimed job with what to do about it. */
interface Decided {
  message: Message<unknown>;
  row: NotificationRow;
  decision: Decision;
}

/** A claimed job after the provider calls: a send carries the provider's answer. */
type Attempt =
  | (Decided & { decision: Exclude<Decision, { action: "send" }> })
  | (Decided & { decision: Extract<Decision, { action: "send" }>; result: SendResult });

/** Loads what the decisions need in one round trip, then decides each claimed job. */
async function decideAll(
  db: D1Database,
  work: readonly { message: Message<unknown>; row: NotificationRow }[],
  settings: NotificationSettings,
  now: Date,
): Promise<Decided[]> {
  const rows = work.map(({ row }) => row);
  const patientIds = [...new Set(rows.map((row) => row.patient_id))];
  const orderIds = [...new Set(rows.filter((row) => row.kind.startsWith("order_")).map((row) => row.entity_id))];
  const [patientRows, optOutRows, orderRows] = await db.batch<Record<string, unknown>>([
    selectPatients(db, patientIds),
    selectOptedOutPhones(db, patientIds),
    selectOrderFacts(db, orderIds),
  ]);
  const patients = new Map<string, Patient>(
    (patientRows?.results ?? []).map((row) => [String(row.patient_id), toPatient(toPatientRow(row))]),
  );
  const optedOut = new Set((optOutRows?.results ?? []).map((row) => String(row.phone)));
  const orders = new Map((orderRows?.results ?? []).map((row) => [String(row.order_id), row as unknown as OrderFacts]));
  return work.map(({ message, row }) => ({
    message,
    row,
    decision: decide(row, patients.get(row.patient_id), optedOut, orders.get(row.entity_id), settings, now),
  }));
}

async function callProvider(provider: Provider, decision: Extract<Decision, { action: "send" }>): Promise<SendResult> {
  try {
    return await provider.send(decision.message);
  } catch (error) {
    // A provider that throws is treated as transient: the retry decides.
    return { outcome: "transient", reason: `provider error: ${errorKind(error)}` };
  }
}

function outcomeOf(
  row: NotificationRow,
  decision: Extract<Decision, { action: "send" }>,
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

function logBatch(queue: string, counts: Record<string, number>, started: number): void {
  log.info("notification batch", { queue, ...counts, duration_ms: Date.now() - started });
}
