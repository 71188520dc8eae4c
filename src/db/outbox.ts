import { query, readBatch } from "./batch";
import { namedParameters } from "./parameters";

/**
 * The outbox machinery's SQL, built once from a table's spec (docs/architecture.md, "The outbox
 * machinery"): claim under a lease (or read, and take each row with its first write), record an
 * outcome only while the lease holds, give a row back for a later retry, sweep rows whose job was
 * lost, dead-letter rows whose retries ran out. Every outbox table has the columns `status`,
 * `attempts`, `error`, `lease_token`, `lease_expires_at` (epoch ms), `next_attempt_at` and
 * `updated_at` (ISO); its spec names the rest.
 */
export interface OutboxTable<Key extends string> {
  table: string;
  /** The row's own id (outcomes and give-backs are recorded by it). */
  idColumn: string;
  /** The columns a queue job names its row by. */
  keyColumns: readonly [Key, ...Key[]];
  /**
   * How a job's row is found by its key, as a condition on the row (`row`: its alias with the dot, or
   * ""; `ref` answers each key column's value as SQL) that an index answers. By default the key
   * columns' equality, which a unique index on them answers.
   */
  rowOfKey?: (row: string, ref: (column: Key) => string) => string;
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

/**
 * A row {@link Outbox.read} answered, to be taken by its first write: its `attempts` and
 * `lease_token` as read, and when.
 */
export interface Taking {
  attempts: number;
  token: string | null;
  nowMs: number;
}

/** The placeholders (or SQL) of a take's values: see {@link Outbox.takeSql}. */
export interface TakeRef {
  now: string;
  id: string;
  token: string;
  /** The lease's expiry (epoch ms), for `hold`. */
  expiresAt: string;
  /** The row's `attempts` as read. */
  attempts: string;
  /** The row's `lease_token` as read (a reopen by staff clears it). */
  tokenRead: string;
  /** Epoch ms: a lease that ran out by then no longer holds the row. */
  nowMs: string;
}

/** The parameter names of a take's own values, for a statement's {@link namedParameters}. */
export const TAKING_PARAMETERS = ["attempts", "now_ms", "token_read"] as const;
type TakingParameter = (typeof TAKING_PARAMETERS)[number];

/** A take's values by {@link TAKING_PARAMETERS} name, to bind. */
export function takingValues(taking: Taking): Record<TakingParameter, unknown> {
  return { attempts: taking.attempts, now_ms: taking.nowMs, token_read: taking.token };
}

/** The {@link TakeRef} fields of a take's own values, from a statement's placeholders. */
export function takingRef(ref: (name: TakingParameter) => string): Pick<TakeRef, "attempts" | "nowMs" | "tokenRead"> {
  return { attempts: ref("attempts"), nowMs: ref("now_ms"), tokenRead: ref("token_read") };
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
  /**
   * Reads jobs' open rows without writing (one statement): the rows free to take, each with the
   * `attempts` it was read at, and those held under another claimer's live lease (with their expiry).
   * A path that takes its rows with its first write ({@link Outbox.takeSql}) saves the claim's write.
   */
  read<Row>(
    db: D1Database,
    keys: readonly OutboxKeyOf<Key>[],
    now: number,
  ): Promise<{ free: Row[]; leasedElsewhere: LeasedElsewhere<Key>[] }>;
  /**
   * `UPDATE … SET <set>, <lease columns>, attempts, updated_at = <now> WHERE <id> AND <taken>`: the
   * first write on a row {@link Outbox.read} answered takes it under `lease` in the same statement, so
   * the row costs no claim write. It applies only when the row is ours already (a repeat after a lost
   * answer), or still open, not leased elsewhere, and unchanged since the read: its `attempts` is the
   * one read, as every take counts one, so of two claimers that read the same row only the first to
   * write has it (`changes = 0` for the other); its `lease_token` too, which a reopen by staff clears
   * (a row put back to wait for the reopened job). `hold` keeps the lease until `expiresAt` (a call is
   * about to be made), `record` releases it keeping the token (an outcome, as
   * {@link Outbox.recordSql}), `release` gives the row back (token cleared, as
   * {@link Outbox.retryLater}).
   */
  takeSql(set: string, lease: "hold" | "record" | "release", ref: TakeRef): string;
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
    /** Takes a row {@link Outbox.read} answered in the same write ({@link Outbox.takeSql}). */
    taking?: Taking,
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
  /** A job's key columns alone (of a job, or of a row). */
  const keyOf = (key: OutboxKeyOf<Key>) =>
    Object.fromEntries(keyColumns.map((column) => [column, key[column]])) as OutboxKeyOf<Key>;
  const rowOfKey =
    spec.rowOfKey ??
    ((row: string, ref: (column: Key) => string) =>
      keyColumns.map((column) => `${row}${column} = ${ref(column)}`).join(" AND "));

  // One statement for a whole batch of jobs (?1: their keys as a JSON array of objects): each job's
  // row is found by its key (rowOfKey), then updated by its id. A statement per job cost the Worker a
  // statement's request and answer each (issue 26.5).
  const jobRows = `SELECT row.${idColumn} FROM json_each(?1) AS job JOIN ${table} AS row
    ON ${rowOfKey("row.", (column) => `json_extract(job.value, '$.${column}')`)}`;
  const claimSql = `UPDATE ${table} SET lease_token = ?3, lease_expires_at = ?4, attempts = attempts + 1, updated_at = ?5
WHERE ${idColumn} IN (${jobRows}) AND ${open}
  AND (lease_expires_at IS NULL OR lease_expires_at <= ?2 OR lease_token = ?3)
RETURNING *`;
  const leasedElsewhereSql = `SELECT ${keyColumns.join(", ")}, lease_expires_at FROM ${table}
WHERE ${idColumn} IN (${jobRows}) AND ${open} AND lease_expires_at > ?2 AND lease_token <> ?3`;

  // Reading instead of claiming: the row is taken by its first write (takeSql), one D1 row written
  // fewer per job (issue 26.2).
  const readSql = `SELECT * FROM ${table} WHERE ${idColumn} IN (${jobRows}) AND ${open}`;
  const leaseSet = {
    hold: (ref: TakeRef) => `lease_token = ${ref.token}, lease_expires_at = ${ref.expiresAt}`,
    record: (ref: TakeRef) => `lease_token = ${ref.token}, lease_expires_at = NULL`,
    release: () => "lease_token = NULL, lease_expires_at = NULL",
  };
  const takeSql: Outbox<Key>["takeSql"] = (set, lease, ref) =>
    `UPDATE ${table} SET ${set},
  ${leaseSet[lease](ref)}, attempts = attempts + (lease_token IS NOT ${ref.token}), updated_at = ${ref.now}
WHERE ${idColumn} = ${ref.id} AND (lease_token = ${ref.token} OR (${open} AND attempts = ${ref.attempts}
  AND lease_token IS ${ref.tokenRead} AND (lease_expires_at IS NULL OR lease_expires_at <= ${ref.nowMs})))`;

  const keep = (flag: string) =>
    unknownOutcomeColumns.map((column) => `${column} = CASE WHEN ${flag} THEN ${column} END`);
  const retryLaterSet = `error = ?2, next_attempt_at = ?5, ${keep("?6").join(",\n  ")}`;
  const retryLaterSql = `UPDATE ${table} SET lease_expires_at = NULL, lease_token = NULL, updated_at = ?3, ${retryLaterSet}
WHERE ${idColumn} = ?1 AND lease_token = ?4`;
  const retryLaterTakingSql = takeSql(retryLaterSet, "release", {
    now: "?3",
    id: "?1",
    token: "?4",
    expiresAt: "NULL",
    attempts: "?7",
    nowMs: "?8",
    tokenRead: "?9",
  });

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
WHERE ${rowOfKey("", deadParams.ref)} AND ${open}
  AND (lease_expires_at IS NULL OR lease_expires_at <= ${deadParams.ref("now_ms")}) AND ${unknownOutcomeColumns[0]} IS NULL`;

  return {
    spec,
    async claim<Row>(db: D1Database, keys: readonly OutboxKeyOf<Key>[], lease: Lease, now: number) {
      if (keys.length === 0) return { claimed: [], leasedElsewhere: [] };
      const iso = new Date(now).toISOString();
      const jobs = JSON.stringify(keys.map(keyOf));
      const [claimed, leasedElsewhere] = await readBatch(db, [
        query<Row>(db.prepare(claimSql).bind(jobs, now, lease.token, lease.expiresAt, iso)),
        query<LeasedElsewhere<Key>>(db.prepare(leasedElsewhereSql).bind(jobs, now, lease.token)),
      ]);
      return { claimed, leasedElsewhere };
    },
    async read<Row>(db: D1Database, keys: readonly OutboxKeyOf<Key>[], now: number) {
      if (keys.length === 0) return { free: [], leasedElsewhere: [] };
      const jobs = JSON.stringify(keys.map(keyOf));
      const { results } = await db.prepare(readSql).bind(jobs).all<Row & { lease_expires_at: number | null }>();
      const free: Row[] = [];
      const leasedElsewhere: LeasedElsewhere<Key>[] = [];
      for (const row of results) {
        if (row.lease_expires_at === null || row.lease_expires_at <= now) free.push(row);
        else leasedElsewhere.push({ ...keyOf(row as OutboxKeyOf<Key>), lease_expires_at: row.lease_expires_at });
      }
      return { free, leasedElsewhere };
    },
    takeSql,
    recordSql: (set, ref) =>
      `UPDATE ${table} SET ${set},
  lease_expires_at = NULL, updated_at = ${ref.now}
WHERE ${idColumn} = ${ref.id} AND lease_token = ${ref.token}`,
    retryLater: (db, id, error, lease, now, retryAt, outcomeUnknown, taking) =>
      taking
        ? db
            .prepare(retryLaterTakingSql)
            .bind(
              id,
              error,
              now,
              lease.token,
              retryAt,
              outcomeUnknown ? 1 : 0,
              taking.attempts,
              taking.nowMs,
              taking.token,
            )
        : db.prepare(retryLaterSql).bind(id, error, now, lease.token, retryAt, outcomeUnknown ? 1 : 0),
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
      // One statement a job, each marking at most its one row: count the statements that changed it
      // (`changes` also counts the rows a table's triggers wrote, such as a status history row).
      return results.filter((result) => (result.meta.changes ?? 0) > 0).length;
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
