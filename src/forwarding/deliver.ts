import type { BackoffSchedule } from "../backoff";
import {
  claimDeliveries,
  type DeliveryContext,
  type DeliveryKey,
  destinationAfterTry,
  disableGoneDestination,
  insertAttempt,
  readDeliveryContext,
  recordDelivery,
  retryDelivery,
  waitBehindPause,
} from "../db/deliveries";
import type { Destination } from "../db/destinations";
import { getEntity } from "../db/entities";
import { log } from "../log";
import { connectionLimit } from "../notify/connection-limit";
import { nextTrySeconds } from "../outbox/backoff";
import { newLease } from "../outbox/lease";
import { type AttemptResult, attemptDelivery } from "./attempt";
import { changeBody } from "./changes";
import { signedHeaders, signingSecrets } from "./destinations";

/**
 * Delivering changes to a clinic's endpoint (issue 25), on the outbox machinery: claim the jobs' rows
 * under a lease, send each signed change once, record the outcome (delivered, a retry with backoff,
 * or failed), every attempt, and the destination's circuit.
 *
 * - 2xx: delivered. 410: the row fails and the destination is disabled, with an alert. Anything else
 *   (a timeout, a network error, a redirect, another status) retries with {@link DELIVERY_BACKOFF};
 *   429 and 503 wait at least their `Retry-After`. A row still failing {@link GIVE_UP_AFTER_MS} after
 *   it was created, leaving out the time it waited behind its paused destination (at most as long
 *   again), fails for good
 *   (`POST /admin/deliveries/replay` sends it again).
 * - After {@link PAUSE_AFTER_FAILURES} failures in a row a destination pauses (circuit open): its
 *   rows wait without a try (not counted as one) until `probe_at`, when one delivery goes as a probe; a success closes the
 *   circuit, a failure moves `probe_at` one backoff step further. Other destinations never wait on it.
 */

/** 30 s doubling to Queues' 12-hour maximum delay, between 80 % and all of it. */
export const DELIVERY_BACKOFF: BackoffSchedule = { baseSeconds: 30, capSeconds: 12 * 3600, jitterFloor: 0.8 };
/** A row fails for good this long after it was created: over 3 days of retries. */
export const GIVE_UP_AFTER_MS = 4 * 86_400_000;
/** Consecutive failures that pause a destination (circuit open). */
export const PAUSE_AFTER_FAILURES = 10;
/** A claim's lease: the calls of a batch run 6 at a time, each at most 15 s. */
const LEASE_MS = 3 * 60_000;

export interface DeliveryRunResult {
  delivered: number;
  retrying: number;
  failed: number;
  /** Jobs to enqueue again, each with its delay (at most Queues' 12 h; a longer wait is left to the sweep). */
  later: { job: DeliveryKey; delaySeconds: number }[];
}

/** The body a destination receives: the change, plus the entity's facts when it may hold patient data. */
async function bodyFor(db: D1Database, context: DeliveryContext, destination: Destination): Promise<string> {
  const change = context.change;
  if (!change) throw new Error("change missing");
  const body = changeBody(change);
  if (!destination.include_phi || change.entity_kind === "notification") return JSON.stringify(body);
  // Read within the destination's clinic: no other clinic's facts can reach its endpoint.
  const facts = await getEntity(
    db,
    { role: "viewer", clinics: [destination.clinic_id] },
    change.entity_kind,
    change.entity_id,
  );
  return JSON.stringify({ ...body, data: { ...body.data, facts } });
}

/**
 * Why a claimed row cannot go, or null: its destination or change is gone, the destination is
 * disabled, or the row pairs a change with another clinic's destination (a change is only ever its
 * own clinic's).
 */
function refusalOf({ destination, change }: DeliveryContext): string | null {
  if (!destination) return "destination deleted";
  if (!change) return "change purged";
  if (change.clinic_id !== destination.clinic_id) return "change of another clinic";
  if (!destination.enabled) return "destination disabled";
  return null;
}

/** Delivers the rows of `jobs` at `now` (epoch ms); answers tallies and the jobs to try later. */
export async function deliverChanges(
  env: Env,
  jobs: readonly DeliveryKey[],
  now: () => number = Date.now,
): Promise<DeliveryRunResult> {
  const db = env.DB;
  const result: DeliveryRunResult = { delivered: 0, retrying: 0, failed: 0, later: [] };
  const lease = newLease(now(), LEASE_MS);
  const { claimed } = await claimDeliveries(db, jobs, lease, now());
  const contexts = await readDeliveryContext(db, claimed);
  const withConnection = connectionLimit();
  // One probe per paused destination per run; its other rows wait for the probe's outcome.
  const probing = new Set<string>();

  await Promise.all(
    contexts.map(async (context) => {
      const { row, destination } = context;
      const at = new Date(now());
      const iso = at.toISOString();
      const job = { change_id: row.change_id, destination_id: row.destination_id };
      const error = refusalOf(context);
      if (error || !destination) {
        await recordDelivery(
          db,
          { delivered: false, error: error ?? "destination deleted" },
          row.delivery_id,
          lease,
          iso,
          null,
        ).run();
        result.failed += 1;
        return;
      }
      if (destination.state === "paused") {
        const probeDue = destination.probe_at === null || destination.probe_at <= iso;
        if (!probeDue || probing.has(destination.destination_id)) {
          const retryAt = destination.probe_at && destination.probe_at > iso ? destination.probe_at : iso;
          await db.batch([
            waitBehindPause(db, row.delivery_id, lease, Date.parse(retryAt) - at.getTime()),
            ...retryDelivery(db, row.delivery_id, lease, {
              error: "destination paused",
              now: iso,
              retryAt,
              httpStatus: null,
            }),
          ]);
          const delaySeconds = Math.max(1, Math.ceil((Date.parse(retryAt) - at.getTime()) / 1000));
          result.later.push({ job, delaySeconds });
          result.retrying += 1;
          return;
        }
        probing.add(destination.destination_id);
      }
      const body = await bodyFor(db, context, destination);
      const headers = signedHeaders(signingSecrets(destination, at), row.change_id, body, at);
      const attempt = await withConnection(() =>
        attemptDelivery(destination.url, headers, body, () => new Date(now())),
      );
      await record(db, context, destination, attempt, lease, now(), result);
    }),
  );
  return result;
}

/** Writes one try's outcome, its attempt row and the destination's circuit in one batch. */
async function record(
  db: D1Database,
  context: DeliveryContext,
  destination: Destination,
  attempt: AttemptResult,
  lease: ReturnType<typeof newLease>,
  nowMs: number,
  result: DeliveryRunResult,
): Promise<void> {
  const { row } = context;
  const iso = new Date(nowMs).toISOString();
  const statements: D1PreparedStatement[] = [
    insertAttempt(db, {
      delivery_id: row.delivery_id,
      attempt: row.attempts,
      at: iso,
      http_status: attempt.http_status,
      latency_ms: attempt.latency_ms,
      error_class: attempt.error_class,
      response_excerpt: attempt.response_excerpt,
    }),
  ];
  const job = { change_id: row.change_id, destination_id: row.destination_id };
  if (attempt.delivered) {
    statements.push(
      recordDelivery(db, { delivered: true }, row.delivery_id, lease, iso, attempt.http_status),
      destinationAfterTry(db, destination.destination_id, { delivered: true, at: iso }),
    );
    result.delivered += 1;
  } else if (attempt.http_status === 410) {
    statements.push(
      recordDelivery(
        db,
        { delivered: false, error: "gone (410): destination disabled" },
        row.delivery_id,
        lease,
        iso,
        410,
      ),
      ...disableGoneDestination(db, destination, iso),
    );
    result.failed += 1;
    log.warn("forwarding destination gone; disabled", { destination_id: destination.destination_id });
  } else {
    const error = attempt.http_status === null ? (attempt.error_class ?? "network") : `http ${attempt.http_status}`;
    const streak = destination.failure_streak + 1;
    const probeAt = new Date(
      nowMs + nextTrySeconds(DELIVERY_BACKOFF, Math.max(1, streak - PAUSE_AFTER_FAILURES + 1)) * 1000,
    ).toISOString();
    statements.push(
      destinationAfterTry(db, destination.destination_id, {
        delivered: false,
        pauseAfter: PAUSE_AFTER_FAILURES,
        probeAt,
      }),
    );
    // The retry window leaves out the time the row waited for its paused destination to come back, up
    // to the window's own length: a destination down for good still lets its rows fail (after 8 days).
    const waited = Math.min(row.paused_ms ?? 0, GIVE_UP_AFTER_MS);
    if (nowMs - Date.parse(row.created_at) - waited >= GIVE_UP_AFTER_MS) {
      statements.push(
        recordDelivery(
          db,
          { delivered: false, error: `retries exhausted (${error})` },
          row.delivery_id,
          lease,
          iso,
          attempt.http_status,
        ),
      );
      result.failed += 1;
    } else {
      const delaySeconds = nextTrySeconds(DELIVERY_BACKOFF, row.attempts, attempt.retry_after_seconds);
      const retryAt = new Date(nowMs + delaySeconds * 1000).toISOString();
      statements.push(
        ...retryDelivery(db, row.delivery_id, lease, { error, now: iso, retryAt, httpStatus: attempt.http_status }),
      );
      result.later.push({ job, delaySeconds });
      result.retrying += 1;
    }
  }
  await db.batch(statements);
}
