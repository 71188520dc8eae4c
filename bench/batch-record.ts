/** What the bench entry (bench/worker/index.ts) records and the harness reads back. */

/** One queue invocation as the harness sees it. */
export interface BatchRecord {
  queue: string;
  messages: number;
  acked: number;
  retried: number;
  /** True when the handler threw (the runtime retries the whole batch). */
  threw: boolean;
  d1_round_trips: number;
  duration_ms: number;
  /** Event ids of main-queue messages the consumer asked to retry. */
  retried_event_ids: string[];
}

/** A message the Worker sent to one of its queues while `capture` was on. */
export interface CapturedMessage {
  queue: string;
  body: unknown;
  delaySeconds: number;
}
