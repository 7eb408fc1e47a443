import {
  Code,
  ConnectError,
  createServiceClient,
  loadConfig,
  unpackPayload,
} from "@berth/platform";
import type {
  McpServerCreated,
  McpServerDeleted,
  McpServerUpdated,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { RegistryService, Transport } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { useEngines } from "@berth/testkit";
import type { Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEvents } from "../../../test/support/events.js";
import { meshIdentity, serviceMeshEnv, testLogger } from "../../../test/support/mesh.js";
import { type Registry, registryEnv, startRegistry } from "../src/index.js";
import { weatherDoc } from "./weather-doc.js";

// Every change of the catalog is announced once through the outbox; refused requests announce nothing.
describe("registry events over gRPC", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let registry: Registry;
  let client: Client<typeof RegistryService>;

  beforeAll(async () => {
    engines = await useEngines();
    const env = {
      DATABASE_URL: engines.databaseUrl,
      ...serviceMeshEnv("registry", engines),
      GRPC_PORT: "0",
      REGISTRY_LOAD_CATALOG: "false",
    };
    registry = await startRegistry(loadConfig(registryEnv, env), testLogger("registry"));
    client = createServiceClient(RegistryService, `127.0.0.1:${registry.port}`, {
      identity: meshIdentity("gateway"),
    });
  });
  afterAll(async () => {
    await registry?.stop();
    await engines?.cleanup();
  });

  it("publishes Created, Updated (with changed fields) and Deleted, once each", async () => {
    const { server } = await client.createServer({
      server: { name: "events-demo", image: "x/y:1", transport: Transport.STDIO },
    });
    const id = server!.id;
    await client.updateServer({
      server: { id, title: "Demo", revision: 1n },
      updateMask: { paths: ["title"] },
    });
    // The same value again is no change: no revision, no event.
    const same = await client.updateServer({
      server: { id, title: "Demo" },
      updateMask: { paths: ["title"] },
    });
    expect(same.server?.revision).toBe(2n);
    await expect(client.createServer({ server: { name: "events-demo" } })).rejects.toMatchObject({
      code: Code.AlreadyExists,
    });
    await expect(client.deleteServer({ id, revision: 1n })).rejects.toMatchObject({
      code: Code.Aborted,
    });
    await client.deleteServer({ id, revision: 2n });
    await expect(client.getServer({ id })).rejects.toMatchObject({ code: Code.NotFound });

    const events = await readEvents(engines.natsUrl, "BERTH_REGISTRY", {
      until: (all) => all.filter((e) => e.envelope.aggregateId === id).length >= 3,
    });
    await new Promise((resolve) => setTimeout(resolve, 300)); // room for a wrong extra event
    const again = await readEvents(engines.natsUrl, "BERTH_REGISTRY", { waitMs: 1_000 });
    const mine = again.filter((e) => e.envelope.aggregateId === id);
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(mine.map((e) => [e.subject, e.envelope.aggregateVersion])).toEqual([
      ["berth.registry.server.created", 1n],
      ["berth.registry.server.updated", 2n],
      ["berth.registry.server.deleted", 2n],
    ]);
    const [created, updated, deleted] = mine.map((e) => unpackPayload(e.envelope));
    expect((created as McpServerCreated).server?.name).toBe("events-demo");
    expect((updated as McpServerUpdated).changedFields).toEqual(["title"]);
    expect((updated as McpServerUpdated).server?.title).toBe("Demo");
    expect(deleted as McpServerDeleted).toMatchObject({ serverId: id, name: "events-demo" });
  });

  it("announces imports: Created for a new name, nothing for the same document, Updated for a newer version", async () => {
    const first = await client.importServer({ serverJson: weatherDoc("1.0.0") });
    const id = first.server!.id;
    const repeat = await client.importServer({ serverJson: weatherDoc("1.0.0") });
    expect(repeat.changed).toBe(false);
    const newer = await client.importServer({ serverJson: weatherDoc("1.1.0") });
    expect(newer.server?.revision).toBe(2n);
    const events = await readEvents(engines.natsUrl, "BERTH_REGISTRY", {
      until: (all) => all.filter((e) => e.envelope.aggregateId === id).length >= 2,
    });
    const mine = events.filter((e) => e.envelope.aggregateId === id);
    expect(mine.map((e) => e.envelope.eventType)).toEqual([
      "berth.events.v1.McpServerCreated",
      "berth.events.v1.McpServerUpdated",
    ]);
    const changed = (unpackPayload(mine[1]!.envelope) as McpServerUpdated).changedFields;
    expect(changed).toEqual(expect.arrayContaining(["version", "server_json"]));
  });

  it("answers gRPC errors with field violations and writes nothing for a refused import", async () => {
    const bad = {
      ...weatherDoc("3.0.0"),
      name: "io.github.acme/broken",
      packages: [{ registryType: "oci" }],
    };
    const error = await client.importServer({ serverJson: bad }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    expect((error as ConnectError).message).toContain("server_json.packages[0].identifier");
    await expect(client.getServer({ id: "io.github.acme/broken" })).rejects.toMatchObject({
      code: Code.NotFound,
    });
  });
});
