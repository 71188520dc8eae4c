import { readFaultRate } from "./config/faults";

/**
 * Fault injection for the reliability benchmark (`npm run bench -- --faults R`), never for production:
 * with `FAULT_INJECTION_RATE` unset or 0 every function here is the identity. With a rate R, D1 batches
 * fail at rate R — half of them before reaching D1, half after committing (a lost answer, the harder
 * case) — and handlers and the notification provider throw at rate R. Everything injected is
 * transient: the queues' retries must still deliver every event exactly once.
 */
export class InjectedFault extends Error {
  override name = "InjectedFault";
}

/** Throws an {@link InjectedFault} with the configured probability. */
export function maybeFail(env: Env, where: string): void {
  const rate = readFaultRate(env);
  if (rate > 0 && Math.random() < rate) throw new InjectedFault(`injected fault in ${where}`);
}

/** `env` with a D1 binding whose `batch` fails at the configured rate; `env` itself when off. */
export function withInjectedFaults(env: Env): Env {
  const rate = readFaultRate(env);
  if (rate === 0) return env;
  const db = env.DB;
  const faulty = new Proxy(db, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (property !== "batch" || typeof value !== "function")
        return typeof value === "function" ? value.bind(target) : value;
      return async (statements: D1PreparedStatement[]) => {
        const roll = Math.random();
        if (roll < rate / 2) throw new InjectedFault("injected D1 fault before commit");
        const results = (await value.call(target, statements)) as D1Result[];
        if (roll < rate) throw new InjectedFault("injected D1 fault after commit");
        return results;
      };
    },
  });
  return { ...env, DB: faulty };
}
