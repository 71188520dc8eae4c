/**
 * The Workers runtime lets one invocation hold at most 6 connections open at once; a seventh `fetch`
 * waits for a free one while its own timeout already runs. The sender therefore passes every provider
 * call through one of these, so no more than 6 are in flight and a call's timeout (started inside the
 * provider, once the call holds a slot) measures the provider, not the wait for a connection.
 */
export const SIMULTANEOUS_CONNECTIONS = 6;

/** Runs tasks with at most `limit` of them in flight; the others wait in arrival order. */
export function connectionLimit(limit: number = SIMULTANEOUS_CONNECTIONS) {
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  return async function withConnection<T>(task: () => Promise<T>): Promise<T> {
    if (inFlight >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else inFlight += 1;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, so `inFlight` never drops below the queue's need.
      const next = waiting.shift();
      if (next) next();
      else inFlight -= 1;
    }
  };
}

/** A run's gate on provider calls. */
export type ConnectionLimit = ReturnType<typeof connectionLimit>;
