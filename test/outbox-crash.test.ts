import { createServiceClient } from "@berth/platform";
import {
  McpServerSchema,
  RegistryService,
  Transport,
} from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { findFreePort, useEngines, waitForPort } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEvents } from "./support/events.js";
import { meshIdentity, serviceMeshEnv } from "./support/mesh.js";
import { type ServiceProcess, spawnService } from "./support/service-process.js";

// The registry is killed (SIGKILL, no cleanup) at the worst moments of the outbox; after a
// restart every created server is announced exactly once.
describe("outbox under a crash of the registry", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    engines = await useEngines();
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    await engines?.cleanup();
  });

  async function startRegistry(port: number, failpoints = ""): Promise<ServiceProcess> {
    const registry = spawnService("registry", {
      DATABASE_URL: engines.databaseUrl,
      ...serviceMeshEnv("registry", engines),
      GRPC_PORT: String(port),
      LOG_LEVEL: "warn",
      BERTH_FAILPOINTS: failpoints,
    });
    running.push(registry);
    await Promise.race([
      waitForPort(port, 30_000),
      registry.exited.then(() => {
        throw new Error(`registry exited early: ${registry.output().stderr}`);
      }),
    ]);
    return registry;
  }

  async function outboxState(name: string): Promise<{ rows: number; unsent: number }> {
    const db = new pg.Client({ connectionString: engines.databaseUrl });
    await db.connect();
    try {
      const server = await db.query("select id from registry.servers where name = $1", [name]);
      const outbox = await db.query(
        "select count(*)::int as rows, count(*) filter (where sent_at is null)::int as unsent from registry.outbox where aggregate_id = $1",
        [server.rows[0]?.id],
      );
      return outbox.rows[0] as { rows: number; unsent: number };
    } finally {
      await db.end();
    }
  }

  for (const failpoint of ["outbox.after-commit", "outbox.after-publish"]) {
    it(`delivers exactly one McpServerCreated when killed at ${failpoint}`, async () => {
      const port = await findFreePort();
      const name = `crash-${failpoint.split(".")[1]}`;
      const doomed = await startRegistry(port, failpoint);
      const client = createServiceClient(RegistryService, `127.0.0.1:${port}`, {
        identity: meshIdentity("gateway"),
        defaultTimeoutMs: 10_000,
      });
      await client
        .createServer({ server: create(McpServerSchema, { name, transport: Transport.STDIO }) })
        .catch(() => undefined);
      expect((await doomed.exited).signal).toBe("SIGKILL");
      const before = await outboxState(name);
      expect(before).toEqual({ rows: 1, unsent: 1 });

      const restarted = await startRegistry(port);
      const got = await client.getServer({ id: name });
      const events = await readEvents(engines.natsUrl, "BERTH_REGISTRY", { waitMs: 4_000 });
      const created = events.filter((e) => e.envelope.aggregateId === got.server?.id);
      expect(created.map((e) => e.envelope.eventType)).toEqual([
        "berth.events.v1.McpServerCreated",
      ]);
      expect(await outboxState(name)).toEqual({ rows: 1, unsent: 0 });
      expect(await restarted.stop()).toEqual({ code: 0, signal: null });
    });
  }
});
