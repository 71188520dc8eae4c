import { query, readBatch } from "./batch";
import { namedParameters } from "./parameters";

/**
 * The outbox machinery's SQL, built once from a table's spec (docs/architecture.md, "The outbox
 * machinery"): claim under a lease, record an outcome only while the lease holds, give a row back
 * for a later retry, sweep rows whose job was lost, dead-letter rows whose retries ran out. Every
 * outbox table has the columns `status`, `attempts`, `error`, `lease_token`, `lease_expires_at`
 * (epoch ms), `next_attempt_at` and `updated_at` (ISO); its spec names the rest.
 */
export interface OutboxTable<Key extends string> {
  table: string;
  /** The row's own id (outcomes and give-backs are recorded by it). */
  idColumn: string;
  /** The columns a queue job names its row by; the first is indexed (claims look rows up by it). */
  keyColumns: readonly [Key, ...Key[]];
  /** Statuses of a row still to be delivered: claimed, swept and dead-lettered only in these. */
  openStatuses: readonly [string, ...string[]];
  /**
   * Columns set while a call's outcome is unknown, the first being the mark: a give-back after an
   * unknown outcome keeps them (the retry asks the other side first), after a definite failure clears
   * them; a dead letter never fails a marked row (the call may have been accepted).
   */
  unknownOutcomeColumns: readonly [string, ...string[]];
  /** An extra condition on the rows the sweep takes (`?1` is the stale-before time), or none. */
  sweepCondition?: string;
}

/** A job's row key: its key columns' values. */
export type OutboxKeyOf<Key extends string> = Readonly<Record<Key, string>>;

/** A claimer's hold on the rows it claimed: until `expiresAt` (epoch ms), proven by `token`. */
export interface Lease {
  token: string;
  expiresAt: number;
}

/** A job's row that another claimer holds: retried once that lease has run out. */
export type LeasedElsewhere<Key extends string> = OutboxKeyOf<Key> & { lease_expires_at: number };

const statusList = (statuses: readonly string[]) => statuses.map((status) => `'${status}'`).join(", ");

/** The SQL of one spec, built once. */
export interface Outbox<Key extends string> {
  readonly spec: OutboxTable<Key>;
  /**
   * Claims jobs' rows in one round trip: each row still open and not leased by another claimer gets
   * `lease` (a row already holding our token is ours again, so a claim repeated after a lost answer
   * gets its rows back), `attempts` counts the claim. Also answers the rows of these jobs still held
   * under someone else's live lease.
   */
  claim<Row>(
    db: D1Database,
    keys: readonly OutboxKeyOf<Key>[],
    lease: Lease,
    now: number,
  ): Promise<{ claimed: Row[]; leasedElsewhere: LeasedElsewhere<Key>[] }>;
  /** Gives up every row held with `lease` (after a claim whose answer was lost). */
  releaseLeases(db: D1Database, lease: Lease): Promise<void>;
  /**
   * `UPDATE … SET <set>, lease_expires_at = NULL, updated_at = <now> WHERE <id> AND lease_token = <token>`:
   * an outcome written only while our lease holds the row (`changes = 0`: someone took it over). The
   * token stays, so repeating a write whose answer was lost still reports one changed row. `ref`
   * answers the placeholders of the caller's own parameters.
   */
  recordSql(set: string, ref: { now: string; id: string; token: string }): string;
  /**
   * Gives a row back without changing its status (a failure that will retry), with the error and
   * when the retry is due (`next_attempt_at`: the sweep leaves the row alone until then).
   */
  retryLater(
    db: D1Database,
    id: string,
    error: string,
    lease: Lease,
    now: string,
    retryAt: string,
    outcomeUnknown: boolean,
  ): D1PreparedStatement;
  /**
   * Rows the sweep enqueues again: open, untouched since `staleBefore`, not leased, not waiting out
   * a backoff. Touches `updated_at` so the next sweep does not take them again at once.
   */
  takeStale(db: D1Database, staleBefore: string, now: string, limit: number): Promise<OutboxKeyOf<Key>[]>;
  /**
   * Marks the rows of dead-lettered jobs `failed` ("retries exhausted") unless they are final, held
   * under a live lease, or carry an unknown outcome. Answers how many it marked.
   */
  deadLetter(db: D1Database, keys: readonly OutboxKeyOf<Key>[], now: number): Promise<number>;
}

export function outbox<Key extends string>(spec: OutboxTable<Key>): Outbox<Key> {
  const { table, idColumn, keyColumns, unknownOutcomeColumns } = spec;
  const open = `status IN (${statusList(spec.openStatuses)})`;

  // One statement for a whole batch of jobs (?1: their keys as a JSON array of objects): each job's
  // row is found through the key's unique index, then updated by its id. A statement per job cost the
  // Worker a statement's request and answer each (issue 26.5).
  const jobRows = `SELECT row.${idColumn} FROM json_each(?1) AS job JOIN ${table} AS row
    ON ${keyColumns.map((column) => `row.${column} = json_extract(job.value, '$.${column}')`).join(" AND ")}`;
  const claimSql = `UPDATE ${table} SET lease_token = ?3, lease_expires_at = ?4, attempts = attempts + 1, updated_at = ?5
WHERE ${idColumn} IN (${jobRows}) AND ${open}
  AND (lease_expires_at IS NULL OR lease_expires_at <= ?2 OR lease_token = ?3)
RETURNING *`;
  const keyMatch = (ref: (name: Key) => string) =>
    keyColumns.map((column) => `${column} = ${ref(column)}`).join(" AND ");
  const leasedElsewhereSql = `SELECT ${keyColumns.join(", ")}, lease_expires_at FROM ${table}
WHERE ${keyColumns[0]} IN (SELECT value FROM json_each(?1)) AND ${open} AND lease_expires_at > ?2 AND lease_token <> ?3`;

  const keep = (flag: string) =>
    unknownOutcomeColumns.map((column) => `${column} = CASE WHEN ${flag} THEN ${column} END`);
  const retryLaterSql = `UPDATE ${table} SET lease_expires_at = NULL, lease_token = NULL, error = ?2, updated_at = ?3,
  next_attempt_at = ?5, ${keep("?6").join(",\n  ")}
WHERE ${idColumn} = ?1 AND lease_token = ?4`;

  const sweepCondition = spec.sweepCondition ? `\n    AND ${spec.sweepCondition}` : "";
  const takeStaleSql = `UPDATE ${table} SET updated_at = ?2
WHERE ${idColumn} IN (
  SELECT ${idColumn} FROM ${table}
  WHERE ${open} AND updated_at < ?1${sweepCondition}
    AND (lease_expires_at IS NULL OR lease_expires_at < ?4)
    AND (next_attempt_at IS NULL OR next_attempt_at < ?1)
  LIMIT ?3)
RETURNING ${keyColumns.join(", ")}`;

  const deadParams = namedParameters([...keyColumns, "now", "now_ms"]);
  const deadLetterSql = `UPDATE ${table} SET status = 'failed', error = COALESCE(error, 'retries exhausted'), lease_expires_at = NULL, updated_at = ${deadParams.ref("now")}
WHERE ${keyMatch(deadParams.ref)} AND ${open}
  AND (lease_expires_at IS NULL OR lease_expires_at <= ${deadParams.ref("now_ms")}) AND ${unknownOutcomeColumns[0]} IS NULL`;

  return {
    spec,
    async claim<Row>(db: D1Database, keys: readonly OutboxKeyOf<Key>[], lease: Lease, now: number) {
      if (keys.length === 0) return { claimed: [], leasedElsewhere: [] };
      const iso = new Date(now).toISOString();
      const jobs = JSON.stringify(
        keys.map((key) => Object.fromEntries(keyColumns.map((column) => [column, key[column]]))),
      );
      const [claimed, leasedElsewhere] = await readBatch(db, [
        query<Row>(db.prepare(claimSql).bind(jobs, now, lease.token, lease.expiresAt, iso)),
        query<LeasedElsewhere<Key>>(
          db.prepare(leasedElsewhereSql).bind(JSON.stringify(keys.map((key) => key[keyColumns[0]])), now, lease.token),
        ),
      ]);
      return { claimed, leasedElsewhere };
    },
    async releaseLeases(db, lease) {
      await db
        .prepare(`UPDATE ${table} SET lease_expires_at = NULL, lease_token = NULL WHERE lease_token = ?1`)
        .bind(lease.token)
        .run();
    },
    recordSql: (set, ref) =>
      `UPDATE ${table} SET ${set},
  lease_expires_at = NULL, updated_at = ${ref.now}
WHERE ${idColumn} = ${ref.id} AND lease_token = ${ref.token}`,
    retryLater: (db, id, error, lease, now, retryAt, outcomeUnknown) =>
      db.prepare(retryLaterSql).bind(id, error, now, lease.token, retryAt, outcomeUnknown ? 1 : 0),
    async takeStale(db, staleBefore, now, limit) {
      const { results } = await db
        .prepare(takeStaleSql)
        .bind(staleBefore, now, limit, Date.parse(now))
        .all<OutboxKeyOf<Key>>();
      return results;
    },
    async deadLetter(db, keys, now) {
      if (keys.length === 0) return 0;
      const statement = db.prepare(deadLetterSql);
      const iso = new Date(now).toISOString();
      const results = await db.batch(
        keys.map((key) =>
          statement.bind(
            ...deadParams.bind({ ...key, now: iso, now_ms: now } as Record<Key | "now" | "now_ms", unknown>),
          ),
        ),
      );
      return results.reduce((sum, result) => sum + (result.meta.changes ?? 0), 0);
    },
  };
}

/** One try at delivering: delivered, or failed with an error that names no contact details. */
export type DeliveryOutcome = { delivered: true } | { delivered: false; error: string };

/**
 * The upsert of a delivery log without leases (a cron that tells staff, one row per thing told and
 * channel): each try counts an attempt and its error, and the first delivery is recorded once
 * (`delivered_at` never changes after it). `extra` lists further columns taken from the new row.
 */
export function attemptLogUpsert(table: string, keyColumns: readonly string[], extra: readonly string[] = []): string {
  const taken = extra.map((column) => `${column} = excluded.${column}, `).join("");
  return `ON CONFLICT (${keyColumns.join(", ")}) DO UPDATE SET attempts = attempts + 1, ${taken}last_error = excluded.last_error,
  delivered_at = COALESCE(${table}.delivered_at, excluded.delivered_at)`;
}
