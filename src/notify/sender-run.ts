import { retryDelaySeconds } from "../backoff";
import type { OutboxKey } from "../db/notification-outbox";

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

/** The tallies a run keeps besides the verdicts (`messages` is the number of jobs). */
type Tally = Exclude<keyof SenderCounts, "messages">;

/**
 * One sender run's tallies, verdicts and delayed jobs. Each job's backoff is decided once, here: the
 * retry's delay and the row's `next_attempt_at` agree, so the notification sweep never starts a
 * second retry chain for a row waiting out its backoff.
 */
export function startRun(jobs: readonly QueuedJob[], nowMs: number) {
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
  const delayed: DelayedJob[] = [];
  const retryDelays = jobs.map(({ attempts }) => retryDelaySeconds(attempts));
  return {
    jobs,
    nowMs,
    now: new Date(nowMs),
    nowIso: new Date(nowMs).toISOString(),
    /** When the row of the job at `index` is due again: its retry's delay from now. */
    retryAt: (index: number) => new Date(nowMs + (retryDelays[index] ?? 0) * 1000).toISOString(),
    count(tally: Tally) {
      counts[tally] += 1;
    },
    /** The job at `index` is retried with its backoff, counted under `tally`. */
    retry(index: number, tally: "retried" | "lease_lost" = "retried") {
      verdicts[index] = { action: "retry", notBeforeSeconds: retryDelays[index] };
      counts[tally] += 1;
    },
    /** The job at `index` is retried once another sender's lease has run out. */
    waitFor(index: number, notBeforeSeconds: number) {
      verdicts[index] = { action: "retry", notBeforeSeconds };
      counts.retried += 1;
    },
    delay(job: DelayedJob) {
      delayed.push(job);
      counts.scheduled += 1;
    },
    result(): SenderRun {
      return { verdicts, delayed, counts };
    },
  };
}

export type Run = ReturnType<typeof startRun>;
