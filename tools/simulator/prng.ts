/**
 * A small seeded PRNG (mulberry32) and the draws the generator needs. Same seed, same sequence, on
 * every machine and Node version: it uses only 32-bit integer arithmetic.
 */

const BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz";

/** Seeded random draws. Every method advances the one underlying stream. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  /** true with probability `p`. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** `length` characters from `alphabet` (lowercase base 36 by default). */
  token(length: number, alphabet?: string): string;
  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[];
}

/** FNV-1a over the UTF-16 code units: turns any seed string ("42", "demo") into a 32-bit state. */
export function hashSeed(seed: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) {
    hash ^= seed.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A {@link Random} seeded from a string; `createRandom("42/events")` always yields the same draws. */
export function createRandom(seed: string): Random {
  let state = hashSeed(seed);
  const next = (): number => {
    // mulberry32 (Tommy Ettinger): a 32-bit counter run through an integer hash.
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  /** `items[int(0, length - 1)]`, for a list the caller knows is not empty. */
  const at = <T>(items: readonly T[], index: number): T => {
    const item = items[index];
    if (item === undefined && !(index in items)) throw new RangeError(`no item at ${index} of ${items.length}`);
    return item as T;
  };
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: (items) => {
      if (items.length === 0) throw new RangeError("pick from an empty list");
      return at(items, int(0, items.length - 1));
    },
    token: (length, alphabet = BASE36) => {
      let out = "";
      for (let i = 0; i < length; i++) out += alphabet[int(0, alphabet.length - 1)];
      return out;
    },
    shuffle: (items) => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = int(0, i);
        [items[i], items[j]] = [at(items, j), at(items, i)];
      }
      return items;
    },
  };
}
