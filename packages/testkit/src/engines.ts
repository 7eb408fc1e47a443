// The engines alone, without vitest: what `npm start` uses.
export {
  findExecutable,
  findHaproxy,
  findNatsServer,
  findPostgresBinDir,
  INSTALL_HAPROXY,
  INSTALL_NATS,
  INSTALL_POSTGRES,
  type PostgresSearch,
  searchDirs,
} from "./engine-binaries.js";
export { EngineMissingError, EngineStartError } from "./errors.js";
export { findFreePort, isPortListening, waitForPort } from "./free-port.js";
export {
  type BalancedPort,
  type BalancedServer,
  type HaproxyHandle,
  haproxyConfig,
  startHaproxy,
} from "./haproxy.js";
export { startNats } from "./nats.js";
export {
  type NatsClusterHandle,
  type NatsClusterNodeHandle,
  type NatsClusterOptions,
  startNatsCluster,
} from "./nats-cluster.js";
export {
  BERTH_NATS_SERVICES,
  type BerthNatsService,
  berthNatsUsers,
  type NatsClusterNode,
  type NatsUser,
  natsServerConfig,
} from "./nats-users.js";
export { BERTH_DATABASE, startPostgres } from "./postgres.js";
export { isRoot, lastLines, type RunOptions, type RunResult, runCommand } from "./run-command.js";
export { hasExited, type StopProcessOptions, stopProcess } from "./stop-process.js";
export { createTestDatabase } from "./test-database.js";
export type {
  Engines,
  NatsHandle,
  NatsOptions,
  PostgresHandle,
  PostgresOptions,
  TestDatabase,
} from "./types.js";
export { pollUntil, waitFor } from "./wait-for.js";
