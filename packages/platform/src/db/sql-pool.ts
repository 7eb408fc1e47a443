import pg from "pg";

/**
 * Raw SQL with `?` placeholders, as `EntityManager.execute` takes it: code written against this
 * runs on the ORM's connections (an EntityManager is one) or on a SqlPool of its own.
 */
export interface SqlExecutor {
  // biome-ignore lint/suspicious/noExplicitAny: rows of any shape, as EntityManager.execute.
  execute<T = any>(query: string, params?: unknown[]): Promise<T>;
}

/** A few connections of their own, outside the ORM's pool. */
export interface SqlPool extends SqlExecutor {
  /** Runs fn in one transaction on one connection: committed when it resolves, else rolled back. */
  transactional<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Options of createSqlPool. */
export interface SqlPoolOptions {
  url: string;
  /** Connections at most (default 2). */
  max?: number;
  /** A statement running longer is cancelled (default none). */
  statementTimeoutMs?: number;
  /** Postgres schema searched first, as the service's ORM does. */
  schema?: string;
}

/** `?` placeholders to pg's `$1, $2, …` (the SQL given here carries no literal question marks). */
function numbered(query: string): string {
  let n = 0;
  return query.replace(/\?/g, () => `$${++n}`);
}

const executorOf = (client: pg.Pool | pg.PoolClient): SqlExecutor => ({
  async execute(query, params = []) {
    const result = await client.query(numbered(query), params);
    // biome-ignore lint/suspicious/noExplicitAny: the caller names the row type.
    return result.rows as any;
  },
});

/**
 * A small pool of its own for work that must not wait behind the ORM's pool: a lease heartbeat
 * starved by the very load it guards (every pooled connection busy with event handlers and
 * status reports) lets the lease run out, and the runtime then gives up all its workloads.
 */
export function createSqlPool(options: SqlPoolOptions): SqlPool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 2,
    keepAlive: true,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    ...(options.schema ? { options: `-c search_path=${options.schema},public` } : {}),
  });
  // A connection lost while idle is dropped by the pool; the next query opens another.
  pool.on("error", () => undefined);
  const direct = executorOf(pool);
  return {
    execute: direct.execute,
    async transactional(fn) {
      const client = await pool.connect();
      try {
        await client.query("begin");
        const result = await fn(executorOf(client));
        await client.query("commit");
        return result;
      } catch (error) {
        await client.query("rollback").catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
