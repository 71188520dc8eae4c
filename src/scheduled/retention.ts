import { readAuditRetentionDays, readChangeFeedDays, readPayloadRetentionDays } from "../config/retention";
import { purgeAuditRows } from "../db/audit";
import { purgeChanges } from "../db/changes";
import { purgeDeliveriesBeforeFeed } from "../db/deliveries";
import { ENTITY_RETENTION, entityFactsPurgeRuns } from "../db/entity-retention";
import { payloadPurgeRun } from "../db/events";
import { purgeInboundReplies } from "../db/inbound-replies";
import { renderedPurgeRun } from "../db/notification-outbox";
import type { EntityKind } from "../event-types";
import { log } from "../log";

/** Rows per UPDATE: small enough to keep each statement short on D1's single writer. */
export const PURGE_CHUNK_ROWS = 500;
/** Chunks per run; a backlog larger than this is finished by the next runs. */
export const PURGE_MAX_CHUNKS = 40;
/**
 * Extra days an event still in flight (queued, processing, failed) keeps its payload: a queue holds a
 * message at most 14 days, so after that the event is stuck, and its payload goes too.
 */
export const STUCK_EVENT_GRACE_DAYS = 14;
/**
 * Extra days an entity that never reached a final status (an order left `shipped`, a medication
 * request left `approved`, a refill left `requested`) keeps its PHI facts after its last event, on top
 * of `PAYLOAD_RETENTION_DAYS`: a year, the usual life of a prescription, so a request still being
 * refilled keeps its medication name; after that the entity is abandoned and its facts go.
 */
export const QUIET_ENTITY_GRACE_DAYS = 365;

/**
 * Removes payload bodies older than `PAYLOAD_RETENTION_DAYS` (default 30), chunk by chunk. Each
 * event's id, type, status and times stay, so deduplication keeps working long after NovaMed's last
 * retry (about 1 h 21 min after the first attempt). Rendered notification bodies older than that go
 * too (each notification keeps its status and times), and so do patients' inbound replies, and so do the PHI facts of entities in a final
 * status whose last event is that old (ids, statuses and times stay), and those of any entity, final
 * or not, {@link QUIET_ENTITY_GRACE_DAYS} later. Events stuck in flight lose their payload
 * {@link STUCK_EVENT_GRACE_DAYS} later. `PAYLOAD_RETENTION_DAYS = 0` disables the purge.
 */
export async function purgeExpiredPayloads(env: Env, now: Date): Promise<number> {
  const days = readPayloadRetentionDays(env);
  if (days === 0) return 0;
  const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
  const stuckCutoff = new Date(now.getTime() - (days + STUCK_EVENT_GRACE_DAYS) * 86_400_000).toISOString();
  const quietCutoff = new Date(now.getTime() - (days + QUIET_ENTITY_GRACE_DAYS) * 86_400_000).toISOString();
  const payloads = payloadPurgeRun(env.DB, { cutoff, stuckCutoff, now: now.toISOString(), chunk: PURGE_CHUNK_ROWS });
  const purged = (await inChunks(() => payloads.next())) + (await payloads.stuck());
  await payloads.moveMark();
  const texts = renderedPurgeRun(env.DB, { cutoff, now: now.toISOString(), chunk: PURGE_CHUNK_ROWS });
  const rendered = await inChunks(() => texts.next());
  await texts.moveMark();
  const replies = await inChunks(() => purgeInboundReplies(env.DB, cutoff, PURGE_CHUNK_ROWS));
  let entities = 0;
  for (const kind of Object.keys(ENTITY_RETENTION) as EntityKind[]) {
    // The final entities, then any entity, sharing one kind's chunks per run as one query did before.
    let chunks = PURGE_MAX_CHUNKS;
    for (const run of entityFactsPurgeRuns(
      env.DB,
      kind,
      { final: cutoff, any: quietCutoff },
      now.toISOString(),
      PURGE_CHUNK_ROWS,
    )) {
      let purgedChunks = 0;
      entities += await inChunks(
        () => {
          purgedChunks += 1;
          return run.next();
        },
        { rows: PURGE_CHUNK_ROWS, maxChunks: chunks },
      );
      chunks -= purgedChunks;
      await run.moveMark();
      if (chunks === 0) break;
    }
  }
  log.info("payload retention", {
    retention_days: days,
    purged,
    rendered_purged: rendered,
    inbound_replies_purged: replies,
    entity_facts_purged: entities,
  });
  return purged;
}

/**
 * Deletes audit rows older than `AUDIT_RETENTION_DAYS` (default 2190, six years). Payload retention
 * never touches the audit trail; this is its only deletion. `AUDIT_RETENTION_DAYS = 0` keeps it all.
 */
export async function purgeExpiredAuditRows(env: Env, now: Date): Promise<number> {
  const days = readAuditRetentionDays(env);
  if (days === 0) return 0;
  const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
  const purged = await inChunks(() => purgeAuditRows(env.DB, cutoff, PURGE_CHUNK_ROWS));
  log.info("audit retention", { retention_days: days, purged });
  return purged;
}

/**
 * Changes and forwarding deliveries a run deletes at most: 10 ranges of 50,000 changes (each a range
 * of the primary key) and 10 chunks of 10,000 deliveries with their attempts, 30 queries in all, so
 * the daily run keeps its budget (src/archive/run.ts) while taking over 400,000 changes a day.
 */
const CHANGE_PURGE = { rows: 50_000, maxChunks: 10 };
const DELIVERY_PURGE = { rows: 10_000, maxChunks: 10 };

/**
 * Deletes changes older than `CHANGE_FEED_DAYS` (default 30: far beyond a destination's 3 days of
 * retries, so a poller away for a month resumes without a gap), oldest first, then the forwarding
 * deliveries (and their attempts) of changes the feed no longer holds: their response excerpts may
 * echo a destination's body, which must not outlive the change.
 */
export async function purgeExpiredChanges(env: Env, now: Date): Promise<number> {
  const days = readChangeFeedDays(env);
  const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
  const purged = await inChunks(() => purgeChanges(env.DB, cutoff, CHANGE_PURGE.rows), CHANGE_PURGE);
  const deliveries = await inChunks(() => purgeDeliveriesBeforeFeed(env.DB, DELIVERY_PURGE.rows), DELIVERY_PURGE);
  log.info("change feed retention", { retention_days: days, purged, deliveries_purged: deliveries });
  return purged;
}

/** Runs a chunked purge until a chunk comes back short or the per-run cap is reached. */
async function inChunks(
  purgeChunk: () => Promise<number>,
  limits: { rows: number; maxChunks: number } = { rows: PURGE_CHUNK_ROWS, maxChunks: PURGE_MAX_CHUNKS },
): Promise<number> {
  let total = 0;
  for (let chunk = 0; chunk < limits.maxChunks; chunk += 1) {
    const changed = await purgeChunk();
    total += changed;
    if (changed < limits.rows) break;
  }
  return total;
}
