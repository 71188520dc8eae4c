/**
 * Keyset paging, one way for every list (admin API and console): a list is read in a `(time, id)`
 * order, a page continues after the last row of the one before, and a reader asks SQLite for one row
 * more than a page to learn whether another page follows ({@link nextPage}).
 */

/** Where a list continues: after the row at `(time, id)` in the list's order. */
export interface ListPosition {
  time: string;
  id: string | number;
}

/** One page of a list, and the position the next page continues after (null on the last page). */
export interface Page<Row> {
  rows: Row[];
  next: ListPosition | null;
}

/**
 * The condition of the rows after `position` in `ORDER BY time, id` (`"asc"`) or `ORDER BY time DESC,
 * id DESC` (`"desc"`), for `where().and(...)`: an index on `(…, time, id)` reads it in order.
 */
export function afterPosition(
  param: (value: unknown) => string,
  columns: { time: string; id: string },
  position: ListPosition,
  order: "asc" | "desc",
): string {
  const beyond = order === "desc" ? "<" : ">";
  const time = param(position.time);
  const id = param(position.id);
  return `(${columns.time} ${beyond} ${time} OR (${columns.time} = ${time} AND ${columns.id} ${beyond} ${id}))`;
}

/** The LIMIT a list reader asks for a page of `limit`: one row more, to tell whether another page follows. */
export function pageLimit(limit: number): number {
  return limit + 1;
}

/**
 * Of the `pageLimit(limit)` rows a list reader read, the page and where the next one continues: the
 * `positionOf` its last row, when a row beyond the page was found.
 */
export function nextPage<Row>(rows: readonly Row[], limit: number, positionOf: (row: Row) => ListPosition): Page<Row> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, next: rows.length > limit && last !== undefined ? positionOf(last) : null };
}
