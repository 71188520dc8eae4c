/**
 * Typed reads of a D1 batch. A statement builder states the row type of its SQL by returning a
 * `Query<Row>` (a prepared statement carrying its row type), and `readBatch` answers each query's
 * rows by position, typed. The one cast from D1's untyped rows lives here.
 */

declare const rowType: unique symbol;

/** A prepared statement whose rows have type `Row` (the type is only a compile-time mark). */
export type Query<Row> = D1PreparedStatement & { readonly [rowType]?: Row };

/** States the row type of an inline statement's SQL. */
export function query<Row>(statement: D1PreparedStatement): Query<Row> {
  return statement;
}

/** The rows of each query of a batch, by position. */
export type BatchRows<Q extends readonly Query<unknown>[]> = {
  -readonly [K in keyof Q]: Q[K] extends Query<infer Row> ? Row[] : never;
};

/** Runs the queries in one round trip (one D1 batch) and answers the rows of each, by position. */
export async function readBatch<const Q extends readonly Query<unknown>[]>(
  db: D1Database,
  queries: Q,
): Promise<BatchRows<Q>> {
  const results = await db.batch<Record<string, unknown>>([...queries]);
  // The one cast: D1 returns untyped rows; each builder's `Query<Row>` states what its SQL selects.
  return results.map((result) => result.results ?? []) as unknown as BatchRows<Q>;
}

/**
 * Runs `queries` and then `last` in one D1 batch (a run of claims or writes, then the read that
 * follows them) and answers the rows of each of `queries`, by position, and those of `last`.
 */
export async function readBatchThen<Row, Last>(
  db: D1Database,
  queries: readonly Query<Row>[],
  last: Query<Last>,
): Promise<{ rows: Row[][]; last: Last[] }> {
  const all = await readBatch<readonly Query<Row | Last>[]>(db, [...queries, last]);
  return { rows: all.slice(0, -1) as Row[][], last: (all.at(-1) ?? []) as Last[] };
}
