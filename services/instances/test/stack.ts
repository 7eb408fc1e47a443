import { Writable } from "node:stream";
import {
  createEnvelope,
  createLogger,
  createServiceClient,
  encodeEnvelope,
  type Logger,
  loadConfig,
} from "@berth/platform";
import { McpServerInstanceStatusChangedSchema } from "@berth/proto/gen/berth/events/v1/events_pb";
import {
  InstanceSecretsService,
  type InstanceStatus,
  InstancesService,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { type Registry, registryEnv, startRegistry } from "@berth/registry";
import { connectAs, type Engines } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { jetstream } from "@nats-io/jetstream";
import pg from "pg";
import { meshEnv, meshIdentity, serviceMeshEnv } from "../../../test/support/mesh.js";
import { type Instances, instancesEnv, startInstances } from "../src/index.js";

/** A logger whose lines are kept in memory, so tests can grep them for secret values. */
export function memoryLogger(service: string): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ service, level: "debug", destination }), lines };
}

/** Registry and instances in-process, with gRPC clients and the instances log in memory. */
export interface Stack {
  env: Record<string, string>;
  registry: Pick<Registry, "port" | "stop">;
  instances: Instances;
  logLines: string[];
  instancesClient: ReturnType<typeof createServiceClient<typeof InstancesService>>;
  secretsClient: ReturnType<typeof createServiceClient<typeof InstanceSecretsService>>;
  registryClient: ReturnType<typeof createServiceClient<typeof RegistryService>>;
  /** Restarts the instances service with changed variables (same database and bus). */
  restartInstances(env?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the registry and the instances service against the test's engines. */
export async function startStack(
  engines: Engines,
  extraEnv: Record<string, string> = {},
  options: { registry?: boolean } = {},
) {
  const env = { ...meshEnv(engines), REGISTRY_ADDR: "127.0.0.1:1", ...extraEnv };
  // Without a registry, only url instances without a catalog entry can be created.
  const registry: Pick<Registry, "port" | "stop"> =
    options.registry === false
      ? { port: 1, stop: async () => {} }
      : await startRegistry(
          loadConfig(registryEnv, { ...env, ...serviceMeshEnv("registry", engines) }),
          memoryLogger("registry").logger,
        );
  env.REGISTRY_ADDR = `127.0.0.1:${registry.port}`;
  const { logger, lines } = memoryLogger("instances");
  // The instances service as it runs: its own certificate and NATS user.
  const instancesConfig = () =>
    loadConfig(instancesEnv, { ...env, ...serviceMeshEnv("instances", engines) });
  let instances = await startInstances(instancesConfig(), logger);
  // Each client calls as the service that calls it in production.
  const gateway = { identity: meshIdentity("gateway") };
  const clients = (port: number) => ({
    instancesClient: createServiceClient(InstancesService, `127.0.0.1:${port}`, gateway),
    secretsClient: createServiceClient(InstanceSecretsService, `127.0.0.1:${port}`, {
      identity: meshIdentity("runtime"),
    }),
  });
  const stack: Stack = {
    env,
    registry,
    instances,
    logLines: lines,
    ...clients(instances.port),
    registryClient: createServiceClient(RegistryService, `127.0.0.1:${registry.port}`, gateway),
    async restartInstances(more = {}) {
      await instances.stop();
      Object.assign(env, more);
      instances = await startInstances(instancesConfig(), logger);
      Object.assign(stack, { instances, ...clients(instances.port) });
    },
    async stop() {
      await instances.stop();
      await registry.stop();
    },
  };
  return stack;
}

/** Runs one query against the test database. */
export async function query<T = Record<string, unknown>>(
  databaseUrl: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    return (await db.query(sql, params)).rows as T[];
  } finally {
    await db.end();
  }
}

/** A status report as the runtime publishes it. */
export interface StatusReport {
  instanceId: string;
  generation: bigint;
  status: InstanceStatus;
  sequence: bigint;
  message?: string;
  removed?: boolean;
}

/** Builds the runtime's McpServerInstanceStatusChanged envelope for a report. */
export function statusEnvelope(report: StatusReport) {
  return createEnvelope({
    schema: McpServerInstanceStatusChangedSchema,
    payload: create(McpServerInstanceStatusChangedSchema, {
      ...report,
      message: report.message ?? "",
      removed: report.removed ?? false,
      observedAt: timestampNow(),
    }),
    aggregateType: "McpServerInstance",
    aggregateId: report.instanceId,
    aggregateVersion: report.sequence,
    source: "runtime",
  });
}

/**
 * Publishes envelopes on the runtime's status subject (msgID: the event id unless given), as the
 * user in natsUrl (useEngines' natsUrl: the test kit's admin, standing in for the runtime).
 */
export async function publishStatus(
  natsUrl: string,
  envelopes: Array<{ envelope: ReturnType<typeof statusEnvelope>; msgId?: string }>,
): Promise<void> {
  const nc = await connectAs(natsUrl);
  try {
    const js = jetstream(nc);
    for (const { envelope, msgId } of envelopes) {
      await js.publish("berth.runtime.instance.status_changed", encodeEnvelope(envelope), {
        msgID: msgId ?? envelope.eventId,
      });
    }
  } finally {
    await nc.close();
  }
}

/** Polls until check() holds; returns whether it did. */
export { pollUntil as waitFor } from "@berth/testkit";
