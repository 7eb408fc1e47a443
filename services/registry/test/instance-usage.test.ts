import { randomUUID } from "node:crypto";
import {
  Code,
  connectNats,
  createEnvelope,
  createServiceClient,
  encodeEnvelope,
  ensureStreams,
  loadConfig,
  subjectFor,
} from "@berth/platform";
import {
  type EventEnvelope,
  McpServerInstanceCreatedSchema,
  McpServerInstanceDeletedSchema,
  McpServerInstanceUpdatedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { McpServerInstanceSchema } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { useEngines } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { meshIdentity, serviceMeshEnv, testLogger } from "../../../test/support/mesh.js";
import { type Registry, registryEnv, startRegistry } from "../src/index.js";

// The registry learns which entries are in use from the instances service's events, published
// here as that service would (envelopes on BERTH_INSTANCES), and refuses to delete those entries.
describe("delete is refused while instances use the entry", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let registry: Registry;
  let client: Client<typeof RegistryService>;
  let nc: NatsConnection;
  let db: pg.Client;

  beforeAll(async () => {
    engines = await useEngines();
    nc = await connectNats(engines.natsUrl, "instances-stand-in");
    await ensureStreams(nc, ["BERTH_INSTANCES"]);
    db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
    registry = await start();
  });
  afterAll(async () => {
    await registry?.stop();
    await db?.end();
    await nc?.close();
    await engines?.cleanup();
  });

  async function start(): Promise<Registry> {
    const env = {
      DATABASE_URL: engines.databaseUrl,
      ...serviceMeshEnv("registry", engines),
      GRPC_PORT: "0",
      REGISTRY_LOAD_CATALOG: "false",
    };
    const started = await startRegistry(loadConfig(registryEnv, env), testLogger("registry"));
    client = createServiceClient(RegistryService, `127.0.0.1:${started.port}`, {
      identity: meshIdentity("gateway"),
    });
    return started;
  }

  const instance = (id: string, serverId: string, revision: bigint) =>
    create(McpServerInstanceSchema, { id, name: `i-${id.slice(0, 8)}`, serverId, revision });

  function event(
    kind: "created" | "updated" | "deleted",
    id: string,
    serverId: string,
    version: number,
  ) {
    const common = {
      aggregateType: "McpServerInstance",
      aggregateId: id,
      aggregateVersion: version,
      source: "instances",
    };
    if (kind === "deleted") {
      const payload = create(McpServerInstanceDeletedSchema, { instanceId: id, serverId });
      return createEnvelope({ schema: McpServerInstanceDeletedSchema, payload, ...common });
    }
    const schema =
      kind === "created" ? McpServerInstanceCreatedSchema : McpServerInstanceUpdatedSchema;
    const payload = create(schema, { instance: instance(id, serverId, BigInt(version)) });
    return createEnvelope({ schema, payload, ...common });
  }

  /** Publishes as the instances outbox does; `msgID` differs to force a real redelivery of a copy. */
  async function publish(envelope: EventEnvelope, msgID = envelope.eventId): Promise<void> {
    await jetstream(nc).publish(subjectFor(envelope.eventType), encodeEnvelope(envelope), {
      msgID,
    });
  }

  /** Waits (bounded) until the consumer has applied every event published so far. */
  async function settled(count: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const rows = await db.query("select count(*)::int as n from registry.inbox");
      if (rows.rows[0].n >= count) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the registry did not apply ${count} instance events within 10 s`);
  }

  async function newServer(name: string): Promise<string> {
    return (await client.createServer({ server: { name } })).server!.id;
  }

  it("refuses while an instance uses the entry, and allows it once the instance is deleted", async () => {
    const serverId = await newServer("in-use");
    const instanceId = randomUUID();
    const created = event("created", instanceId, serverId, 1);
    await publish(created);
    await settled(1);
    const refused = await client.deleteServer({ id: serverId }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: Code.FailedPrecondition });
    expect((refused as Error).message).toContain("used by 1 instance");

    // The same event delivered twice (same event id): applied once.
    await publish(created, randomUUID());
    await publish(event("deleted", instanceId, serverId, 2));
    await settled(2);
    // A stale copy of "created" arriving after "deleted" (a new event id) must not revive the use.
    await publish(event("created", instanceId, serverId, 1));
    await settled(3);
    await client.deleteServer({ id: serverId });
    await expect(client.getServer({ id: serverId })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("follows an instance moved to another entry, ignoring older versions", async () => {
    const first = await newServer("first");
    const second = await newServer("second");
    const id = randomUUID();
    const before = (await db.query("select count(*)::int as n from registry.inbox")).rows[0].n;
    await publish(event("created", id, first, 1));
    await publish(event("updated", id, second, 3));
    await publish(event("updated", id, first, 2)); // late and older: ignored
    await settled(before + 3);
    await client.deleteServer({ id: first });
    await expect(client.deleteServer({ id: second })).rejects.toMatchObject({
      code: Code.FailedPrecondition,
    });
  });

  it("keeps what it learned across a restart and catches up on events sent while down", async () => {
    const serverId = await newServer("restart");
    await registry.stop();
    const id = randomUUID();
    const before = (await db.query("select count(*)::int as n from registry.inbox")).rows[0].n;
    await publish(event("created", id, serverId, 1));
    registry = await start();
    await settled(before + 1);
    await expect(client.deleteServer({ id: serverId })).rejects.toMatchObject({
      code: Code.FailedPrecondition,
    });
  });
});
