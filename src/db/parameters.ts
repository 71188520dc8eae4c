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
