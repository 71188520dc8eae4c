/**
 * A purge that walks a time index up from a mark instead of keeping an index of the rows still to
 * purge (issue 26.2: such a partial index cost a D1 row written for every row inserted or filled in,
 * only for the daily purge to find it again weeks later). The mark, a row of `retention_marks`
 * (migration 0161), is a time below which every row the purge takes is done. A run purges chunk by
 * chunk from the mark, each chunk after the last row the one before purged, and then moves the mark up
 * to the first row it left (where it stopped, or the cutoff), so a run that stops early is resumed by
 * the next. A row that becomes purgeable below the mark later (its text written, its event finished,
 * its payload restored) moves the mark down to itself through a trigger of its table, so the next run
 * takes it. A row that only time makes purgeable (`pending`, such as an entity whose last event is
 * later than the time the mark walks) holds the mark at itself until a run takes it.
 */
export interface MarkedPurge {
  /** The name of its row in `retention_marks`. */
  mark: string;
  table: string;
  /** The primary key, and the time the mark is compared with (an index leads with it). */
  idColumn: string;
  timeColumn: string;
  /** The SET clause of the purge; may use `?2` (now). */
  set: string;
  /** The condition of a row still to purge; may use `?1` (the cutoff) and `?4` (the window's `extra`). */
  purgeable: string;
  /**
   * The condition of a row the mark must not pass although it is not purgeable yet, because it becomes
   * purgeable as time passes without a write that a trigger could see (default: `purgeable`, which
   * then must not depend on the cutoff). May use `?4`.
   */
  pending?: string;
}

export interface MarkedPurgeRun {
  /** Purges the next `chunk` rows before the cutoff, oldest first; answers how many. */
  next(): Promise<number>;
  /** Moves the mark up to the first row the run left (where it stopped, or the cutoff). */
  moveMark(): Promise<void>;
}

export function markedPurgeRun(
  db: D1Database,
  purge: MarkedPurge,
  window: { cutoff: string; now: string; chunk: number; extra?: string },
): MarkedPurgeRun {
  const { mark, table, idColumn, timeColumn, set, purgeable, pending = purgeable } = purge;
  const values = [window.cutoff, window.now, window.chunk, window.extra ?? null];
  let after = "";
  return {
    async next() {
      const { results, meta } = await db
        .prepare(
          `UPDATE ${table} SET ${set}
WHERE ${idColumn} IN (
  SELECT ${idColumn} FROM ${table}
  WHERE ${timeColumn} >= MAX(COALESCE((SELECT at FROM retention_marks WHERE name = '${mark}'), ''), ?5)
    AND ${timeColumn} < ?1 AND ${purgeable}
  ORDER BY ${timeColumn} LIMIT ?3)
RETURNING ${timeColumn} AS at`,
        )
        .bind(...values, after)
        .run<{ at: string }>();
      for (const { at } of results) if (at > after) after = at;
      return meta.changes ?? results.length;
    },
    async moveMark() {
      await db
        .prepare(
          `UPDATE retention_marks SET at = COALESCE((
  SELECT ${timeColumn} FROM ${table}
  WHERE ${timeColumn} >= retention_marks.at AND ${timeColumn} < ?1 AND ${pending}
  ORDER BY ${timeColumn} LIMIT 1), ?1)
WHERE name = '${mark}' AND at < ?1`,
        )
        // D1 binds exactly as many values as the highest parameter the SQL names.
        .bind(...(pending.includes("?4") ? values : values.slice(0, 1)))
        .run();
    },
  };
}
