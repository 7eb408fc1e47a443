import pg from "pg";
import { StartupError } from "../service/startup-error.js";
import {
  connectionProblem,
  type DatabaseTarget,
  describeTarget,
  parseDatabaseUrl,
  passwordOf,
} from "./database-url.js";
import { quoteIdent } from "./quote-ident.js";

/** A held per-schema migration lock; release() ends its connection. */
export interface SchemaLock {
  target: DatabaseTarget;
  release(): Promise<void>;
}

/** Options of lockSchema. */
export interface LockSchemaOptions {
  url: string;
  schema: string;
  /** Name of the variable the URL came from, for messages. */
  variable?: string;
  connectTimeoutMs?: number;
}

// First key of the two-key advisory lock: "berth migrations" (the second is the schema's hash).
const LOCK_CLASS = 0x62657274;

/**
 * Checks that the database answers (one-line StartupError otherwise), takes the session advisory
 * lock of the schema so that concurrent starts migrate one at a time, and creates the schema.
 */
export async function lockSchema(options: LockSchemaOptions): Promise<SchemaLock> {
  const variable = options.variable ?? "DATABASE_URL";
  const target = parseDatabaseUrl(options.url, variable);
  const client = new pg.Client({
    connectionString: options.url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
  });
  // An idle client whose server goes away emits "error"; without a listener that kills the process.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    const problem = connectionProblem(error, passwordOf(options.url));
    throw new StartupError(
      `${variable}: cannot connect to postgres at ${describeTarget(target)} (${problem})`,
      { cause: error },
    );
  }
  try {
    await client.query("select pg_advisory_lock($1, hashtext($2))", [LOCK_CLASS, options.schema]);
    await client.query(`create schema if not exists ${quoteIdent(options.schema)}`);
  } catch (error) {
    await client.end().catch(() => {});
    throw new StartupError(
      `${variable}: cannot prepare schema "${options.schema}" at ${describeTarget(target)} (${connectionProblem(error, passwordOf(options.url))})`,
      { cause: error },
    );
  }
  return {
    target,
    // Ending the session releases the advisory lock with it.
    release: () => client.end().catch(() => {}),
  };
}
