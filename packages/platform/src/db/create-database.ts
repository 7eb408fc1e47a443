import type { EntitySchema, MigrationObject } from "@mikro-orm/core";
import { Migrator } from "@mikro-orm/migrations";
import { MikroORM, PostgreSqlDriver } from "@mikro-orm/postgresql";
import { InboxEntry } from "../events/inbox.js";
import { OutboxMessage } from "../events/outbox.js";
import type { Logger } from "../logging/logger.js";
import { StartupError } from "../service/startup-error.js";
import { connectionProblem, describeTarget, passwordOf } from "./database-url.js";
import { ormLoggerFactory } from "./orm-logger.js";
import { inboxMigration, outboxMigration } from "./platform-migrations.js";
import { lockSchema } from "./schema-lock.js";

/** Options of createDatabase. */
export interface CreateDatabaseOptions {
  /** postgres://user:password@host:port/database (shared by every service). */
  url: string;
  /** The Postgres schema this service owns: its tables and its migration bookkeeping live there. */
  schema: string;
  // biome-ignore lint/suspicious/noExplicitAny: entity schemas of any entity type.
  entities: EntitySchema<any, any>[];
  /** The service's migrations, in order (an explicit list: no file globbing under tsx/vitest). */
  migrations: MigrationObject[];
  logger: Logger;
  poolMax?: number;
  /** Adds the outbox entity and its table (platform migration, run first). */
  withOutbox?: boolean;
  /** Adds the inbox entity and its table (platform migration, run first). */
  withInbox?: boolean;
  /** Name of the variable the URL came from, for error messages. */
  urlVariable?: string;
}

/**
 * Connects to the service's schema and migrates it: schema created if missing, platform then
 * service migrations run under a per-schema advisory lock (concurrent starts wait their turn),
 * bookkeeping in `<schema>.mikro_orm_migrations`. Connection problems throw a one-line StartupError.
 */
export async function createDatabase(options: CreateDatabaseOptions): Promise<MikroORM> {
  const variable = options.urlVariable ?? "DATABASE_URL";
  const lock = await lockSchema({ url: options.url, schema: options.schema, variable });
  let orm: MikroORM | undefined;
  try {
    const platformMigrations = [
      ...(options.withOutbox ? [outboxMigration] : []),
      ...(options.withInbox ? [inboxMigration] : []),
    ];
    orm = await MikroORM.init({
      driver: PostgreSqlDriver,
      clientUrl: options.url,
      schema: options.schema,
      entities: [
        ...(options.withOutbox ? [OutboxMessage] : []),
        ...(options.withInbox ? [InboxEntry] : []),
        ...options.entities,
      ],
      discovery: { warnWhenNoEntities: false },
      extensions: [Migrator],
      migrations: {
        tableName: `${options.schema}.mikro_orm_migrations`,
        migrationsList: [...platformMigrations, ...options.migrations],
        transactional: true,
        allOrNothing: true,
        snapshot: false,
      },
      // Unqualified SQL (in a service's migrations or raw queries) lands in the service's schema.
      driverOptions: { searchPath: [options.schema, "public"] },
      pool: { min: 0, max: options.poolMax ?? 10 },
      loggerFactory: ormLoggerFactory(options.logger),
      ensureDatabase: false,
    });
    await orm.getMigrator().up();
    options.logger.debug(
      { schema: options.schema, database: describeTarget(lock.target) },
      "database schema migrated",
    );
    return orm;
  } catch (error) {
    await orm?.close(true).catch(() => {});
    if (error instanceof StartupError) throw error;
    const problem = connectionProblem(error, passwordOf(options.url));
    throw new StartupError(
      `database: cannot migrate schema "${options.schema}" at ${describeTarget(lock.target)} (${problem})`,
      { cause: error },
    );
  } finally {
    await lock.release();
  }
}
