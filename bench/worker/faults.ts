/**
 * Bench-only D1 wrappers: a round-trip counter and transient fault injection. They wrap the Worker's
 * `DB` binding from outside (bench/worker/index.ts), so production code carries no benchmark hooks.
 *
 * Faults at rate R: a D1 batch fails before reaching D1 with probability R/2 and after committing
 * with probability R/2 (a lost answer, the harder case); a single statement (`first`, `all`, `run`,
 * `raw`) fails before reaching D1 with probability R. `down` makes every call fail (an outage).
 * Everything injected is transient: the queues' retries must still apply every event exactly once.
 */
import { recordResult, type StageLedger } from "./ledger";

export class InjectedFault extends Error {
  override name = "InjectedFault";
}

/** What the wrapper does on each call; read on every call, so a run can change it between batches. */
export interface FaultPlan {
  rate: number;
  down: boolean;
  random: () => number;
}

/** Statements handed to `batch` must be D1's own objects, not proxies: unwrap what we wrapped. */
const originals = new WeakMap<object, D1PreparedStatement>();
/** Each wrapped statement's SQL text, for the cost ledger. */
const sqlOf = new WeakMap<object, string>();

const STATEMENT_CALLS = new Set(["first", "all", "run", "raw"]);

function statementProxy(
  statement: D1PreparedStatement,
  sql: string,
  onCall: () => void,
  ledger: StageLedger | null,
): D1PreparedStatement {
  const proxy = new Proxy(statement, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      if (property === "bind")
        return (...values: unknown[]) =>
          statementProxy(value.apply(target, values) as D1PreparedStatement, sql, onCall, ledger);
      if (!STATEMENT_CALLS.has(String(property))) return value.bind(target);
      if (ledger && property === "first")
        // `first` answers no `meta`: the same statement through `all`, its first row (or column) kept.
        return async (column?: string) => {
          onCall();
          const result = await target.all<Record<string, unknown>>();
          recordResult(ledger, sql, result);
          const row = result.results[0] ?? null;
          if (row === null || column === undefined) return row;
          if (!(column in row)) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`);
          return row[column];
        };
      return async (...args: unknown[]) => {
        onCall();
        const result = await value.apply(target, args);
        if (ledger) recordResult(ledger, sql, property === "raw" ? null : result);
        return result;
      };
    },
  });
  originals.set(proxy, statement);
  sqlOf.set(proxy, sql);
  return proxy;
}

/**
 * `db` counting one round trip per `batch`, `exec` or statement call into `counter.roundTrips`, and
 * failing as `plan` says. Pass `plan` null to count only.
 */
export function instrumentedDatabase(
  db: D1Database,
  counter: { roundTrips: number },
  plan: FaultPlan | null,
  ledger: StageLedger | null = null,
): D1Database {
  const fail = (where: string, probability: number) => {
    if (plan && (plan.down || plan.random() < probability)) throw new InjectedFault(`injected D1 fault ${where}`);
  };
  return new Proxy(db, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      if (property === "prepare")
        return (sql: string) => {
          return statementProxy(
            value.call(target, sql) as D1PreparedStatement,
            sql,
            () => {
              counter.roundTrips += 1;
              fail("on a statement", plan?.rate ?? 0);
            },
            ledger,
          );
        };
      if (property === "batch")
        return async (statements: D1PreparedStatement[]) => {
          counter.roundTrips += 1;
          const roll = plan?.random() ?? 1;
          if (plan?.down || roll < (plan?.rate ?? 0) / 2) throw new InjectedFault("injected D1 fault before commit");
          const results = (await value.call(
            target,
            statements.map((statement) => unwrap(statement)),
          )) as D1Result[];
          if (ledger)
            for (const [index, result] of results.entries())
              recordResult(ledger, sqlOf.get(statements[index]!) ?? "?", result);
          if (roll < (plan?.rate ?? 0)) throw new InjectedFault("injected D1 fault after commit");
          return results;
        };
      return (...args: unknown[]) => {
        counter.roundTrips += 1;
        fail("on exec", plan?.rate ?? 0);
        return value.apply(target, args);
      };
    },
  });
}

/** D1's own statement behind a (possibly bound) proxy. */
function unwrap(statement: D1PreparedStatement): D1PreparedStatement {
  return originals.get(statement) ?? statement;
}
