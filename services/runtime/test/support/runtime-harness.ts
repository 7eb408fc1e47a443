import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  createEnvelope,
  createServiceClient,
  encodeEnvelope,
  ensureStreams,
  loadConfig,
  subjectFor,
} from "@berth/platform";
import {
  DesiredState,
  McpServerInstanceSchema,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RuntimeService } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { connectAs } from "@berth/testkit";
import { create, type DescMessage, type JsonObject, type MessageShape } from "@bufbuild/protobuf";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import Docker from "dockerode";
import {
  type MeshEngines,
  meshIdentity,
  serviceMeshEnv,
  testLogger,
} from "../../../../test/support/mesh.js";
import { type Runtime, runtimeEnv, startRuntime } from "../../src/index.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

/** The offline MCP images the tests run. */
export const IMAGES = { stdio: "berth/mcp-everything:stdio", http: "berth/mcp-everything:http" };

/** Builds the offline MCP images when missing or stale (idempotent, about 15 s the first time). */
export async function ensureImages(): Promise<void> {
  await run("bash", [`${ROOT}deploy/images/build-mcp-images.sh`], { timeout: 180_000 });
}

/** The local Docker engine. */
export const docker = new Docker({ socketPath: "/var/run/docker.sock" });

/** A test run id, put on everything the runtime creates (label berth.test). */
export function newRunId(): string {
  return `rt-${randomBytes(4).toString("hex")}`;
}

/** The environment of a runtime under test (its own mesh certificate and NATS user). */
export function runtimeTestEnv(
  engines: MeshEngines,
  runId: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: engines.databaseUrl,
    ...serviceMeshEnv("runtime", engines),
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
    GRPC_PORT: "0",
    BRIDGE_PORT: "0",
    INSTANCES_ADDR: "127.0.0.1:1",
    BERTH_RUNTIME_LABELS: `berth.test=${runId}`,
    RECONCILE_INTERVAL_MS: "2000",
    RESTART_BACKOFF_MS: "200",
    RESTART_BACKOFF_MAX_MS: "2000",
    ...extra,
  };
}

/** Starts a runtime in-process. */
export function startTestRuntime(env: Record<string, string>): Promise<Runtime> {
  return startRuntime(loadConfig(runtimeEnv, env), testLogger("runtime"));
}

/** A gRPC client of a runtime, calling as the gateway (the one service it answers). */
export function runtimeClient(port: number) {
  return createServiceClient(RuntimeService, `127.0.0.1:${port}`, {
    identity: meshIdentity("gateway"),
    defaultTimeoutMs: 10_000,
  });
}

/** Publishes instance events the way the instances service does (envelope, Nats-Msg-Id). */
export interface EventPublisher {
  publish<D extends DescMessage>(
    schema: D,
    payload: MessageShape<D>,
    version: number,
    aggregateId: string,
  ): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects a publisher as the user in natsUrl (useEngines' natsUrl: the test kit's admin, standing
 * in for the instances service) and makes sure the streams exist.
 */
export async function createPublisher(natsUrl: string): Promise<EventPublisher> {
  const nc: NatsConnection = await connectAs(natsUrl);
  await ensureStreams(nc);
  const js = jetstream(nc);
  return {
    async publish(schema, payload, version, aggregateId) {
      const envelope = createEnvelope({
        schema,
        payload,
        aggregateType: "McpServerInstance",
        aggregateId,
        aggregateVersion: version,
        source: "instances",
      });
      await js.publish(subjectFor(schema.typeName), encodeEnvelope(envelope), {
        msgID: envelope.eventId,
      });
    },
    close: () => nc.close(),
  };
}

/** An instance snapshot as the instances service puts it in its events. */
export function instanceSnapshot(options: {
  id?: string;
  name?: string;
  spec: JsonObject;
  generation?: number;
  revision?: number;
  desired?: "running" | "stopped";
}) {
  const id = options.id ?? randomUUID();
  return create(McpServerInstanceSchema, {
    id,
    name: options.name ?? `test-${id.slice(0, 8)}`,
    jsonSpec: options.spec,
    desiredState: options.desired === "stopped" ? DesiredState.STOPPED : DesiredState.RUNNING,
    generation: BigInt(options.generation ?? 1),
    revision: BigInt(options.revision ?? 1),
  });
}

export { waitFor } from "@berth/testkit";

/** Containers and networks labelled with the run id, and Swarm services, secrets and configs. */
export async function leftovers(runId: string) {
  const filters = { label: [`berth.test=${runId}`] };
  const containers = await docker.listContainers({ all: true, filters });
  const networks = await docker.listNetworks({ filters });
  // A Docker engine that is no Swarm manager answers 503: it has no Swarm objects.
  const swarm = <T>(list: () => Promise<T[]>) => list().catch(() => [] as T[]);
  const services = await swarm(() => docker.listServices({ filters }));
  const secrets = await swarm(() => docker.listSecrets({ filters }));
  const configs = await swarm(
    () => docker.listConfigs({ filters }) as Promise<Array<{ ID: string }>>,
  );
  return { containers, networks, services, secrets, configs };
}

/** Removes everything labelled with the run id; returns how many objects were left. */
export async function removeLeftovers(runId: string): Promise<number> {
  const { containers, networks, services, secrets, configs } = await leftovers(runId);
  const quietly = (call: () => Promise<unknown>) => call().catch(() => undefined);
  for (const s of services) await quietly(() => docker.getService(s.ID).remove());
  for (const c of containers)
    await quietly(() => docker.getContainer(c.Id).remove({ force: true, v: true }));
  // Containers of removed services' tasks (labelled too) may still be going.
  for (const c of (await leftovers(runId)).containers)
    await quietly(() => docker.getContainer(c.Id).remove({ force: true, v: true }));
  for (const n of networks) await quietly(() => docker.getNetwork(n.Id).remove());
  for (const s of secrets) await quietly(() => docker.getSecret(s.ID).remove());
  for (const c of configs) await quietly(() => docker.getConfig(c.ID).remove());
  return containers.length + networks.length + services.length + secrets.length + configs.length;
}

/** Containers of one instance (by label). */
export async function containersOf(instanceId: string) {
  return docker.listContainers({ all: true, filters: { label: [`berth.instance=${instanceId}`] } });
}
