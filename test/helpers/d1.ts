/**
 * The one way tests wrap a D1 binding: intercept `prepare` (by SQL), `batch` and `exec`, and pass
 * everything else through. Counting, recording, failing and hooking bindings are all built on it, so
 * a new test never writes its own Proxy.
 */
export interface D1Interceptors {
  /** Each `prepare`: return the statement (`prepare(sql)`, wrapped or not) or throw as D1 would. */
  prepare?: (sql: string, prepare: (sql: string) => D1PreparedStatement) => D1PreparedStatement;
  /** Each `batch`: call `batch(statements)` (or not) and return its results, or throw as D1 would. */
  batch?: (
    statements: D1PreparedStatement[],
    batch: (statements: D1PreparedStatement[]) => Promise<D1Result[]>,
  ) => Promise<D1Result[]>;
  /** Each `exec`. */
  exec?: (query: string, exec: (query: string) => Promise<D1ExecResult>) => Promise<D1ExecResult>;
}

/** `db` with `interceptors` applied; what they leave out behaves as `db` does. */
export function wrapDatabase(db: D1Database, interceptors: D1Interceptors): D1Database {
  return new Proxy(db, {
    get(target, property) {
      const { prepare, batch, exec } = interceptors;
      if (property === "prepare" && prepare) return (sql: string) => prepare(sql, (inner) => target.prepare(inner));
      if (property === "batch" && batch)
        return (statements: D1PreparedStatement[]) => batch(statements, (inner) => target.batch(inner));
      if (property === "exec" && exec) return (query: string) => exec(query, (inner) => target.exec(inner));
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * A `prepare` interceptor that hands each statement to `hook` with its SQL once it is bound (a bound
 * statement is the one that runs, alone or in a batch), for a test to mark it or wrap its methods.
 */
export function hookBinds(hook: (sql: string, bound: D1PreparedStatement) => void): D1Interceptors["prepare"] {
  return (sql, prepare) => {
    const statement = prepare(sql);
    const bind = statement.bind.bind(statement);
    statement.bind = (...values: unknown[]) => {
      const bound = bind(...values);
      hook(sql, bound);
      return bound;
    };
    return statement;
  };
}

/**
 * `db` recording the runtime's `meta` of every statement whose SQL starts with `sqlPrefix` that runs
 * in a `batch` (the Worker's writes do), in order: how tests measure D1's rows written and read.
 */
export function batchedMeta(db: D1Database, sqlPrefix: string): { db: D1Database; metas: D1Meta[] } {
  const metas: D1Meta[] = [];
  const marked = new WeakSet<D1PreparedStatement>();
  const wrapped = wrapDatabase(db, {
    prepare: hookBinds((sql, bound) => {
      if (sql.startsWith(sqlPrefix)) marked.add(bound);
    }),
    batch: async (statements, batch) => {
      const results = await batch(statements);
      statements.forEach((statement, index) => {
        const meta = results[index]?.meta;
        if (marked.has(statement) && meta) metas.push(meta);
      });
      return results;
    },
  });
  return { db: wrapped, metas };
}

/**
 * The `EXPLAIN QUERY PLAN` lines of every statement `read` binds on `db`, in order: each statement is
 * recorded with its values as it is bound, then explained on `db` itself.
 */
export async function queryPlans(db: D1Database, read: (db: D1Database) => unknown): Promise<string[]> {
  const recorded: { sql: string; args: unknown[] }[] = [];
  const recording = wrapDatabase(db, {
    prepare: (sql, prepare) => {
      const statement = prepare(sql);
      const bind = statement.bind.bind(statement);
      statement.bind = (...args: unknown[]) => {
        recorded.push({ sql, args });
        return bind(...args);
      };
      return statement;
    },
  });
  await read(recording);
  const plans = await Promise.all(
    recorded.map(async ({ sql, args }) => {
      const { results } = await db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .bind(...args)
        .all<{ detail: string }>();
      return results.map((row) => row.detail);
    }),
  );
  return plans.flat();
}
