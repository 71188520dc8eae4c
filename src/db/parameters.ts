import { afterPosition, type ListPosition } from "./paging";

/**
 * D1's numbered parameters (`?1`, `?2`, …) by name: a statement lists its parameter names once, its
 * SQL says `ref("event_id")` where a value goes, and `bind` takes the values by name, so neither the
 * SQL nor the binding needs a reader to count positions.
 */
export interface NamedParameters<N extends string> {
  /** The placeholder of one parameter, e.g. `?7`; a name may be used any number of times. */
  ref(name: N): string;
  /** The values in parameter order, for `statement.bind(...)`. */
  bind(values: Readonly<Record<N, unknown>>): unknown[];
}

/** Numbers `names` in order: the first is `?1`. */
export function namedParameters<N extends string>(names: readonly N[]): NamedParameters<N> {
  const numbers = new Map<string, number>(names.map((name, index) => [name, index + 1]));
  // A repeated name would silently bind the wrong value to one of its places.
  if (numbers.size !== names.length) throw new Error("SQL parameter names must be unique");
  return {
    ref: (name) => `?${numbers.get(name)}`,
    bind: (values) => names.map((name) => values[name]),
  };
}

/**
 * A WHERE clause of optional filters: only the filters present go into the SQL, so SQLite picks the
 * index each needs. `(?1 IS NULL OR state = ?1)` instead makes it scan the table and sort in a temp
 * B-tree whatever the filter. `param` numbers each value in order of use.
 */
export interface Where {
  /** Adds `condition(param)` when `present`; `param(value)` answers the value's placeholder. */
  and(present: boolean, condition: (param: (value: unknown) => string) => string): Where;
  /**
   * Adds the keyset condition of the rows after `position` in the list's `(time, id)` order, when a
   * position is given (a page after the first); see {@link afterPosition}.
   */
  after(position: ListPosition | null | undefined, columns: { time: string; id: string }, order: "asc" | "desc"): Where;
  /** The placeholder of one more value (e.g. the LIMIT), numbered after the filters'. */
  param(value: unknown): string;
  /** `WHERE …` of the conditions added, or "" when none was. */
  readonly clause: string;
  /** The values in placeholder order, for `statement.bind(...)`. */
  readonly values: unknown[];
}

export function where(): Where {
  const values: unknown[] = [];
  const conditions: string[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `?${values.length}`;
  };
  const builder: Where = {
    and(present, condition) {
      if (present) conditions.push(condition(param));
      return builder;
    },
    after(position, columns, order) {
      if (position) conditions.push(afterPosition(param, columns, position, order));
      return builder;
    },
    param,
    get clause() {
      return conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
    },
    values,
  };
  return builder;
}
