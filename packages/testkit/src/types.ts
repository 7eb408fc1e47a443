import type { BerthNatsService, NatsClusterNode, NatsUser } from "./nats-users.js";

/** A running Postgres started by the testkit. */
export interface PostgresHandle {
  /** URL of the `berth` database, with the password: postgres://postgres:…@127.0.0.1:55432/berth. */
  url: string;
  /** URL of the `postgres` maintenance database, for creating and dropping databases. */
  adminUrl: string;
  /** Stops the server (fast shutdown: open sessions are cut, data is kept). */
  stop(): Promise<void>;
}

/** Options of startPostgres. */
export interface PostgresOptions {
  /** The data directory; initialized on first use, reused afterwards. */
  dataDir: string;
  /** TCP port on 127.0.0.1; a free one when absent. */
  port?: number;
  /** Keep the data directory on stop() (default true); false removes it. */
  keep?: boolean;
  /** The `postgres` user's password (at least 16 characters); every connection must give it. */
  password: string;
}

/** A running nats-server with JetStream started by the testkit. */
export interface NatsHandle {
  /** e.g. nats://127.0.0.1:4222 */
  url: string;
  /** Process id of nats-server, for finding it again after a crash of its parent. */
  pid: number;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
  /** kill -9: the server gets no chance to leave the cluster cleanly; resolves once it is gone. */
  kill(): Promise<void>;
}

/** Options of startNats. */
export interface NatsOptions {
  /** JetStream store directory; reused across runs. */
  storeDir: string;
  /** TCP port on 127.0.0.1; a free one when absent. */
  port?: number;
  /** Write the server log to this file instead of keeping it in memory. */
  logFile?: string;
  /** Who may connect and what each may publish and subscribe to (berthNatsUsers). */
  users: readonly NatsUser[];
  /** This server as one node of a JetStream cluster (startNatsCluster sets it). */
  cluster?: NatsClusterNode;
}

/** A database created for one test file. */
export interface TestDatabase {
  url: string;
  /** Drops the database, cutting any session still open on it. */
  drop(): Promise<void>;
}

/** What an integration test file gets from useEngines(). */
export interface Engines {
  /** A fresh, empty database of its own. */
  databaseUrl: string;
  /**
   * The shared NATS server, with every BERTH_* stream deleted beforehand, as a URL that logs in
   * as the test kit's admin user (connectNats reads user and password from the URL).
   */
  natsUrl: string;
  /** The same server without credentials, for services (they log in as their own user). */
  natsServiceUrl: string;
  /** Each Berth service's NATS password (the user is the service's name). */
  natsPasswords: Readonly<Record<BerthNatsService, string>>;
  /** Drops the database. */
  cleanup(): Promise<void>;
}

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of a Postgres maintenance database the tests may create databases through. */
    postgresAdminUrl: string;
    /** URL of a NATS server with JetStream, with the test kit's admin user in it. */
    natsUrl: string;
    /** Each Berth service's NATS password. */
    natsPasswords: Record<BerthNatsService, string>;
  }
}
