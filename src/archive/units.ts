import { type ArchivedRow, type ArchiveSource, type ArchiveUnit, oldestUnit, unitRows } from "../db/archive";
import type { ListPosition } from "../db/paging";
import type { ArchiveContext } from "./objects";

/** A unit's time range: its UTC day, cut at the cutoff when the cutoff falls inside it. */
export interface UnitRange {
  start: string;
  end: string;
  cutoff: string;
}

const DAY_MS = 86_400_000;

/** YYYY-MM-DD (UTC) of an instant. */
export const isoDay = (instant: number) => new Date(instant).toISOString().slice(0, 10);

/**
 * The range of `unit`: from its day (`YYYY-MM-DD` sorts before every time of that day) to the next
 * day or the cutoff, whichever comes first.
 */
export function unitRange(unit: ArchiveUnit, cutoff: string): UnitRange {
  const nextDay = isoDay(Date.parse(`${unit.day}T00:00:00.000Z`) + DAY_MS);
  return { start: unit.day, end: nextDay < cutoff ? nextDay : cutoff, cutoff };
}

/** The oldest unit any of `sources` has to archive (one query each), by day then clinic. */
export async function oldestUnitOf(
  context: ArchiveContext,
  sources: readonly ArchiveSource[],
  cutoff: string,
): Promise<ArchiveUnit | null> {
  let oldest: ArchiveUnit | null = null;
  for (const source of sources) {
    context.budget.spend(1);
    const unit = await oldestUnit(context.env.DB, source, cutoff);
    if (unit && (!oldest || `${unit.day} ${unit.clinic_id}` < `${oldest.day} ${oldest.clinic_id}`)) oldest = unit;
  }
  return oldest;
}

/** Up to `pages` pages of a unit's rows of `source`, oldest first (one query per page). */
export async function readUnitRows(
  context: ArchiveContext,
  source: ArchiveSource,
  unit: ArchiveUnit,
  range: UnitRange,
  pages: number,
): Promise<ArchivedRow[]> {
  const rows: ArchivedRow[] = [];
  let after: ListPosition | null = null;
  for (let page = 0; page < pages; page += 1) {
    context.budget.spend(1);
    const batch = await unitRows(context.env.DB, source, unit, range, after, context.pageRows);
    rows.push(...batch);
    const last = batch.at(-1);
    if (batch.length < context.pageRows || !last) break;
    const time = last[source.timeColumn];
    const id = last[source.idColumn];
    if (typeof time !== "string" || (typeof id !== "string" && typeof id !== "number")) break;
    after = { time, id };
  }
  return rows;
}
