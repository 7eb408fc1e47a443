import { createServiceClient } from "@berth/platform";
import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { findFreePort, useEngines, waitForPort } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEvents } from "../../../test/support/events.js";
import { meshEnv, meshIdentity, serviceMeshEnv } from "../../../test/support/mesh.js";
import { type ServiceProcess, spawnService } from "../../../test/support/service-process.js";
import { query } from "./stack.js";

// The instances process is killed (SIGKILL) between the commit and the publish of its outbox;
// after a restart the instance is announced exactly once.
describe("instances outbox under a crash", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let env: Record<string, string>;
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    engines = await useEngines();
    env = {
      ...meshEnv(engines),
      ...serviceMeshEnv("instances", engines),
      LOG_LEVEL: "warn",
      REGISTRY_ADDR: "127.0.0.1:1",
    };
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    await engines?.cleanup();
  });

  async function start(port: number, failpoints = ""): Promise<ServiceProcess> {
    const service = spawnService("instances", {
      ...env,
      GRPC_PORT: String(port),
      BERTH_FAILPOINTS: failpoints,
    });
    running.push(service);
    await Promise.race([
      waitForPort(port, 30_000),
      service.exited.then(() => {
        throw new Error(`instances exited early: ${service.output().stderr}`);
      }),
    ]);
    return service;
  }

  const outboxOf = async (name: string) =>
    (
      await query<{ rows: number; unsent: number }>(
        engines.databaseUrl,
        "select count(*)::int as rows, count(*) filter (where sent_at is null)::int as unsent from instances.outbox o join instances.instances i on i.id::text = o.aggregate_id where i.name = $1",
        [name],
      )
    )[0];

  for (const failpoint of ["outbox.after-commit", "outbox.after-publish"]) {
    it(`delivers exactly one McpServerInstanceCreated when killed at ${failpoint}`, async () => {
      const port = await findFreePort();
      const name = `crash-${failpoint.split(".")[1]}`;
      const doomed = await start(port, failpoint);
      const client = createServiceClient(InstancesService, `127.0.0.1:${port}`, {
        identity: meshIdentity("gateway"),
        defaultTimeoutMs: 10_000,
      });
      await client
        .createInstance({
          instance: { name, jsonSpec: { type: "url", endpoint: "https://mcp.example.com/mcp" } },
        })
        .catch(() => undefined);
      expect((await doomed.exited).signal).toBe("SIGKILL");
      expect(await outboxOf(name)).toEqual({ rows: 1, unsent: 1 });

      const restarted = await start(port);
      const { instance } = await client.getInstance({ id: name });
      const events = await readEvents(engines.natsUrl, "BERTH_INSTANCES", { waitMs: 4_000 });
      expect(
        events.filter((e) => e.envelope.aggregateId === instance?.id).map((e) => e.subject),
      ).toEqual(["berth.instances.instance.created"]);
      expect(await outboxOf(name)).toEqual({ rows: 1, unsent: 0 });
      expect(await restarted.stop()).toEqual({ code: 0, signal: null });
    });
  }
});
