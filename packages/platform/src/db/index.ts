export { type ChangeFeed, type ChangeFeedOptions, createChangeFeed } from "./change-feed.js";
export { type CreateDatabaseOptions, createDatabase } from "./create-database.js";
export {
  connectionProblem,
  type DatabaseTarget,
  describeTarget,
  parseDatabaseUrl,
} from "./database-url.js";
export { insertRows, type RowInsert } from "./insert-rows.js";
export { ormLoggerFactory, PinoOrmLogger } from "./orm-logger.js";
export { inboxMigration, outboxMigration } from "./platform-migrations.js";
export { createPreparedReads, type PreparedReads } from "./prepared-reads.js";
export { quoteIdent } from "./quote-ident.js";
export { type LockSchemaOptions, lockSchema, type SchemaLock } from "./schema-lock.js";
export {
  createSqlPool,
  type SqlExecutor,
  type SqlPool,
  type SqlPoolOptions,
} from "./sql-pool.js";
