import { retryDelaySeconds } from "../backoff";
import type { Channel } from "../channels";
import { readClinicIds, readSenderDefaults, type SenderDefaults } from "../config/clinics";
import { type NotificationSettings, readNotificationSettings } from "../config/notifications";
import { ConfigError } from "../config/read";
import { optOutOfSender } from "../db/clinics";
import { type NotificationRow, type OutboxKey, TRACKING_UPDATED_KIND } from "../db/notification-outbox";
import {
  claimNotifications,
  markSendStarted,
  type Outcome,
  recordedProviderIds,
  recordOutcome,
  releaseNotification,
  releaseNotificationLeases,
  type SendLease,
} from "../db/notification-sends";
import { optOutPhone } from "../db/patients";
import { retryOnceInPlace } from "../db/retry-once";
import { errorKind, log } from "../log";
import { clinicContexts, fromClinic } from "./clinic-decisions";
import { connectionLimit } from "./connection-limit";
import { type Decision, decide } from "./decide";
import { outcomeOfDecision, outcomeOfResult, outcomeWriter } from "./outcomes";
import {
  type FindResult,
  type OutboundMessage,
  PROVIDER_TIMEOUT_MS,
  type Provider,
  readSendAttempt,
  type SendResult,
  sendAttemptOf,
} from "./providers/provider";
import { type ChannelProvider, providersFor } from "./providers/select";
import { loadSendContext, patientOf, supersededBy } from "./send-context";
import { trackingUpdateVerdict } from "./tracking-update";

/** How long a sender holds a notification while it calls the provider. */
export const SEND_LEASE_MS = 60_000;

/** Time kept in a lease, after a provider call's timeout, to record the answer. */
const RECORD_MARGIN_MS = 5_000;

/** One send job as the queue delivered it: `attempts` is the delivery count (1-based). */
export interface QueuedJob {
  job: OutboxKey;
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
  /** Found at the provider after an earlier attempt of unknown outcome, so not sent again. */
  recovered: number;
  /** Provider calls whose outcome is unknown (timeout, lost answer): retried after a lookup. */
  unknown: number;
  /** Rows another sender took over before we could record: retried, never acked as sent. */
  lease_lost: number;
  retried: number;
  skipped: number;
}

/** A scheduled SMS's job, to be enqueued again with a delay (its window opening). */
export interface DelayedJob {
  job: OutboxKey;
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

const keyOf = (job: OutboxKey) => `${job.event_id}\n${job.channel}`;

/**
 * The sender: claim every job's outbox row under a lease (one round trip); load patients, opt-outs,
 * order facts and entity statuses (one); decide each; look up earlier attempts of unknown outcome at
 * the provider; record every outcome that needs no call together with a send mark on each row about
 * to be sent (one); call the providers in parallel and record each answer as soon as it returns
 * (answers arriving together share a write). Failed and unknown sends retry alone with backoff; SMS
 * outside the send window is recorded `scheduled` and handed back as a delayed job. Touches no
 * queue: the consumer acks, retries and enqueues by the verdicts.
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
  // Every provider call of this run (lookups and sends) holds one of the runtime's 6 connections.
  const withConnection = connectionLimit();
  const counts: SenderCounts = {
    messages: jobs.length,
    sent: 0,
    scheduled: 0,
    suppressed: 0,
    failed: 0,
    held: 0,
    superseded: 0,
    recovered: 0,
    unknown: 0,
    lease_lost: 0,
    retried: 0,
    skipped: 0,
  };
  const verdicts: JobVerdict[] = jobs.map(() => ({ action: "ack" }));
  // Each job's backoff is decided once, here: the retry's delay and the row's `next_attempt_at` agree,
  // so the notification sweep never starts a second retry chain for a row waiting out its backoff.
  const retryDelays = jobs.map(({ attempts }) => retryDelaySeconds(attempts));
  const retryVerdict = (index: number): JobVerdict => ({ action: "retry", notBeforeSeconds: retryDelays[index] });
  const retryAt = (index: number) => new Date(nowMs + (retryDelays[index] ?? 0) * 1000).toISOString();
  const retryAll = (): SenderRun => {
    counts.retried += jobs.length;
    return { verdicts: jobs.map((_, index) => retryVerdict(index)), delayed: [], counts };
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
      decideAll(env.DB, work, settings, providers, now, readSenderDefaults(env), soleClinicOf(env)),
    );
  } catch (error) {
    log.warn("notification context load failed", { error: errorKind(error) });
    await releaseAll(env.DB, work, "context load failed", lease, nowIso, retryAt);
    for (const { index } of work) verdicts[index] = retryVerdict(index);
    counts.retried += work.length;
    return { verdicts, delayed: [], counts };
  }

  // An earlier attempt whose outcome is unknown may have reached the patient: ask first.
  decided = await adoptOwnMessages(env.DB, await Promise.all(decided.map((item) => lookUpEarlierAttempt(item))));

  // One write before any provider call: every outcome that needs no call, and a mark on each row
  // about to be sent (with its text), so a lost answer is looked up instead of sent again.
  const delayed: DelayedJob[] = [];
  const before: { item: Decided; statement: D1PreparedStatement }[] = decided.map((item) => ({
    item,
    statement:
      item.decision.action === "send"
        ? markSendStarted(
            env.DB,
            item.row.notification_id,
            item.decision.rendered,
            sendAttemptOf(item.decision.message),
            item.decision.toldTrackingNumber,
            lease,
            nowIso,
          )
        : item.decision.action === "retry_later"
          ? releaseNotification(
              env.DB,
              item.row.notification_id,
              item.decision.reason,
              lease,
              nowIso,
              retryAt(item.index),
              true,
            )
          : recordOutcome(env.DB, outcomeFor(item.row, item.decision), lease, nowIso),
  }));
  let beforeResults: D1Result[];
  try {
    beforeResults = await retryOnceInPlace("notification outcome record", () =>
      env.DB.batch(before.map(({ statement }) => statement)),
    );
  } catch (error) {
    log.warn("notification outcomes not recorded", { error: errorKind(error) });
    await releaseAll(env.DB, work, "outcome record failed", lease, nowIso, retryAt);
    for (const { index } of work) verdicts[index] = retryVerdict(index);
    counts.retried += work.length;
    return { verdicts, delayed: [], counts };
  }

  const sends: (Decided & { decision: SendDecision })[] = [];
  before.forEach(({ item }, position) => {
    const { index, row, decision } = item;
    const ids = { notification_id: row.notification_id, event_id: row.event_id, channel: row.channel, kind: row.kind };
    if ((beforeResults[position]?.meta.changes ?? 0) === 0) {
      // Another sender took the row over (our lease ran out): it carries on, we send nothing.
      verdicts[index] = retryVerdict(index);
      counts.lease_lost += 1;
      log.warn("notification lease lost", ids);
      return;
    }
    switch (decision.action) {
      case "send":
        sends.push({ ...item, decision });
        return;
      case "recovered":
        counts.recovered += 1;
        log.info("notification found at the provider; not sent again", { ...ids, provider: decision.provider });
        return;
      case "retry_later":
        verdicts[index] = retryVerdict(index);
        counts.retried += 1;
        log.warn("notification waits; will retry", { ...ids, reason: decision.reason });
        return;
      case "hold":
        counts.held += 1;
        log.warn("notification held", { ...ids, reason: decision.reason });
        return;
      case "supersede":
        counts.superseded += 1;
        log.info("notification superseded", { ...ids, entity_status: decision.status });
        return;
      case "suppress":
        counts.suppressed += 1;
        log.info("notification suppressed", { ...ids, reason: decision.reason });
        return;
      case "schedule":
        delayed.push({ job: { event_id: row.event_id, channel: row.channel }, delaySeconds: decision.delaySeconds });
        counts.scheduled += 1;
        log.info("notification scheduled", {
          ...ids,
          scheduled_for: decision.opening.toISOString(),
          delay_seconds: decision.delaySeconds,
        });
    }
  });

  // Every provider call in parallel, each answer recorded as soon as it returns.
  const write = outcomeWriter(env.DB);
  await Promise.all(
    sends.map(async ({ index, row, decision }) => {
      const ids = {
        notification_id: row.notification_id,
        event_id: row.event_id,
        channel: row.channel,
        kind: row.kind,
      };
      const provider = decision.provider.name;
      const result = await withConnection(async (): Promise<SendResult> => {
        // A call that could outlive our lease would race the sender that takes the row over next
        // (calls wait here for a connection): leave it, with its send mark, to the retry.
        if ((options.now?.() ?? Date.now()) + PROVIDER_TIMEOUT_MS + RECORD_MARGIN_MS > lease.expiresAt)
          return { outcome: "unknown", reason: "lease too short for the call; not called" };
        return callProvider(decision.provider, decision);
      });
      // The duplicate-SMS window: from the provider's answer to our record of it (logged as record_ms).
      const answered = Date.now();
      const answeredAt = new Date(options.now?.() ?? Date.now()).toISOString();
      const outcome = outcomeOfResult(row, result, provider, decision.rendered, answeredAt);
      const statements = outcome
        ? [recordOutcome(env.DB, outcome, lease, answeredAt)]
        : [
            releaseNotification(
              env.DB,
              row.notification_id,
              reasonOf(result),
              lease,
              answeredAt,
              retryAt(index),
              result.outcome === "unknown",
            ),
          ];
      if (result.outcome === "opted_out") {
        // Twilio's 21610: the patient opted out of this sender, so of its clinics' texts only.
        const sender = decision.message.sender;
        statements.push(
          sender
            ? optOutOfSender(env.DB, decision.message.to, sender.smsKey, "twilio_21610", answeredAt)
            : optOutPhone(env.DB, decision.message.to, "twilio_21610", answeredAt),
        );
      }
      const written = await write(statements);
      if (written === null) {
        // The provider answered but D1 could not record it: retry; the row keeps its send mark, so
        // the retry asks the provider before sending again.
        verdicts[index] = retryVerdict(index);
        counts.retried += 1;
        return;
      }
      if (outcome && (written[0]?.meta.changes ?? 0) === 0) {
        // Our lease was taken over while the provider answered: never ack this job as sent.
        verdicts[index] = retryVerdict(index);
        counts.lease_lost += 1;
        log.warn("notification lease lost after the provider answered", { ...ids, provider });
        return;
      }
      if (!outcome) {
        verdicts[index] = retryVerdict(index);
        counts.retried += 1;
        if (result.outcome === "unknown") counts.unknown += 1;
        log.warn("notification send failed; will retry", {
          ...ids,
          provider,
          outcome: result.outcome,
          attempts: jobs[index]?.attempts,
        });
        return;
      }
      if (outcome.status === "sent") counts.sent += 1;
      else if (outcome.status === "suppressed") counts.suppressed += 1;
      else counts.failed += 1;
      log.info("notification outcome", { ...ids, provider, status: outcome.status, record_ms: Date.now() - answered });
    }),
  );
  return { verdicts, delayed, counts };

  /**
   * After an earlier attempt of unknown outcome, works from that attempt as stored (its text and
   * destination), never from a freshly rendered message: a changed clinic name, carrier or phone
   * would otherwise miss it. The earlier attempt is settled before any other decision counts (a
   * message the provider accepted must be recorded `sent`, even if the entity has moved on since): a
   * provider with a lookup (Twilio) is asked whether it is there; one that dedupes by key (Resend)
   * gets exactly the same request again, so its key matches its payload and it sends nothing new,
   * unless the patient's consent or contact is gone (a suppression stands).
   */
  async function lookUpEarlierAttempt(item: Decided): Promise<Lookup> {
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

  function outcomeFor(
    row: NotificationRow,
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
      };
    return outcomeOfDecision(row, decision);
  }
}

/**
 * Settles each lookup that found matching messages: the row takes the earliest match that no other
 * notification row records (nor another row of this run took), so two word-for-word identical texts
 * to one number never share a message. When every match is another notification's, the earlier
 * attempt never arrived and the decision stands. Records unreadable: the found rows wait and retry.
 */
async function adoptOwnMessages(db: D1Database, lookups: readonly Lookup[]): Promise<Decided[]> {
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

/** Gives the rows back (status unchanged) so a retry need not wait for the lease to run out. */
async function releaseAll(
  db: D1Database,
  work: readonly Claimed[],
  reason: string,
  lease: SendLease,
  now: string,
  retryAt: (index: number) => string,
): Promise<void> {
  await db
    .batch(
      work.map(({ index, row }) =>
        releaseNotification(db, row.notification_id, reason, lease, now, retryAt(index), true),
      ),
    )
    .catch(() => undefined);
}

function reasonOf(result: SendResult): string {
  return "reason" in result ? result.reason : result.outcome;
}

/** A claimed job: its position among the jobs and its outbox row. */
interface Claimed {
  index: number;
  row: NotificationRow;
}

/** A send decision with the channel's provider. */
type SendDecision = Extract<Decision, { action: "send" }> & { provider: Provider };

/**
 * What the sender does with a claimed job: a decision, or, after an earlier attempt of unknown
 * outcome, what the provider's records said (the message is there: `recovered`; could not ask:
 * `retry_later`, retried later). A tracking update also waits (`retry_later`) while a shipping
 * message's outcome is unknown.
 */
type SenderDecision =
  | Exclude<Decision, { action: "send" }>
  | SendDecision
  | { action: "recovered"; provider: string; providerMessageId: string; rendered: string }
  | { action: "retry_later"; reason: string };

/** A claimed job after its earlier attempt was looked up: the messages found, if any (earliest first). */
interface Lookup {
  item: Decided;
  found?: { providerMessageIds: string[]; provider: string; rendered: string };
}

/** A claimed job with what to do about it. */
interface Decided extends Claimed {
  decision: SenderDecision;
  /** The channel's provider, to settle an earlier attempt of unknown outcome; null when held. */
  provider: Provider | null;
}

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
  senderDefaults: SenderDefaults,
  soleClinic: string | null,
): Promise<Decided[]> {
  if ("unreadable" in settings)
    return work.map((claimed) => ({
      ...claimed,
      provider: null,
      decision: { action: "hold", reason: settings.unreadable },
    }));
  const context = await loadSendContext(
    db,
    work.map(({ row }) => row),
    now,
    soleClinic,
  );
  // Every message speaks for its event's clinic: its settings, its sender's opt-outs, its caps.
  const clinicOf = clinicContexts(settings, senderDefaults, context, now);
  return work.map(({ index, row }): Decided => {
    const channel = providers[row.channel];
    if ("held" in channel) return { index, row, provider: null, decision: { action: "hold", reason: channel.held } };
    const { provider } = channel;
    const movedOnTo = supersededBy(row, context);
    if (movedOnTo !== null) return { index, row, provider, decision: { action: "supersede", status: movedOnTo } };
    if (row.kind === TRACKING_UPDATED_KIND) {
      const verdict = trackingUpdateVerdict(row, context.shipmentMessages, context.orders.get(row.entity_id));
      if (verdict.action !== "send") return { index, row, provider, decision: verdict };
    }
    const clinic = clinicOf(row);
    const decision = decide(
      row,
      patientOf(context, row),
      clinic.optedOutPhones,
      context.orders.get(row.entity_id),
      clinic.settings,
      now,
    );
    if (decision.action !== "send") return { index, row, provider, decision };
    const patient = patientOf(context, row);
    const timeZone = patient?.timezone ?? clinic.settings.clinicTimezone;
    if (!clinic.cap.take(row.patient_id, row.channel, timeZone))
      return { index, row, provider, decision: { action: "suppress", reason: "daily_cap" } };
    const message = fromClinic(decision.message, clinic.settings);
    return { index, row, provider, decision: { ...decision, message, provider } };
  });
}

/** The only configured clinic (its unassigned directory rows are its own), or null; never fails the run. */
function soleClinicOf(env: Env): string | null {
  try {
    const ids = readClinicIds(env);
    return ids.length === 1 ? (ids[0] ?? null) : null;
  } catch {
    return null;
  }
}

async function callProvider(provider: Provider, decision: SendDecision): Promise<SendResult> {
  try {
    return await provider.send(decision.message);
  } catch (error) {
    // A provider that throws is treated as transient: the retry decides.
    return { outcome: "transient", reason: `provider error: ${errorKind(error)}` };
  }
}
