import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ApiKeyScope, type BerthClient, type BerthError, createBerthClient } from "@berth/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BerthRun, runBerth } from "../../packages/cli/test/support/run-berth.js";
import { connectMcp } from "../../services/runtime/test/support/mcp-helpers.js";
import {
  containersOf,
  docker,
  newRunId,
  removeLeftovers,
} from "../../services/runtime/test/support/runtime-harness.js";
import { type ComposeMesh, composeUp, listening } from "./support/compose-mesh.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const VERSION = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;
const SERVICES = ["postgres", "nats", "registry", "instances", "runtime", "gateway"];

// The end-to-end day of test/e2e/team-day.test.ts, against the mesh `docker-compose up` runs from
// the images (deploy/compose): the CLI imports a catalog entry, creates an instance with a secret,
// the official MCP SDK client calls a tool through the gateway, the instance is deleted, and
// `docker-compose down` leaves no container, network or volume of the project behind.
describe("deploy/compose: the mesh from the images, a day's work, and down", () => {
  const runId = newRunId();
  const home = mkdtempSync(join(tmpdir(), "berth-compose-"));
  const secret = `sk-compose-${randomBytes(12).toString("hex")}`;
  const runs: BerthRun[] = [];
  const projectFilter = () => ({ label: [`com.docker.compose.project=${mesh.project}`] });
  let mesh: ComposeMesh;
  let sdk: BerthClient;
  let instanceId = "";

  const berth = async (args: string[]) => {
    const run = await runBerth(args, {
      url: mesh.gatewayUrl,
      apiKey: mesh.apiKey,
      timeoutMs: 150_000,
      cwd: ROOT,
    });
    runs.push(run);
    if (run.code !== 0)
      throw new Error(`berth ${args.join(" ")} exited ${run.code}: ${run.stderr}`);
    return run.stdout;
  };

  beforeAll(async () => {
    mesh = await composeUp(home, runId);
    sdk = createBerthClient({ baseUrl: mesh.gatewayUrl, apiKey: mesh.apiKey });
  }, 540_000);
  afterAll(async () => {
    await mesh?.compose(["down", "--remove-orphans", "-t", "20"], 180_000).catch(() => undefined);
    await removeLeftovers(runId);
    rmSync(home, { recursive: true, force: true });
  }, 240_000);

  it("runs every service from its berth image: non-root, read-only root, on the host's loopback", async () => {
    const containers = await docker.listContainers({ all: true, filters: projectFilter() });
    const byService = new Map(
      containers.map((c) => [c.Labels["com.docker.compose.service"], c] as const),
    );
    for (const service of SERVICES) {
      const container = byService.get(service);
      expect(container?.State, `${service} is running`).toBe("running");
      expect(container?.Image).toBe(`berth/${service}:${VERSION}`);
      const inspected = await docker.getContainer(container!.Id).inspect();
      expect(inspected.Config.User, `${service} runs as a user of its own`).toMatch(/^[1-9]\d*/);
      expect(inspected.HostConfig.ReadonlyRootfs, `${service} has a read-only root`).toBe(true);
      expect(inspected.HostConfig.CapDrop).toEqual(["ALL"]);
      expect(inspected.HostConfig.NetworkMode).toBe("host");
      expect(inspected.HostConfig.PortBindings ?? {}).toEqual({});
      // Passwords, the key ring and the admin key reach services as files, never as variables.
      const shown = JSON.stringify(inspected);
      for (const value of mesh.secretValues) expect(shown).not.toContain(value);
    }
    // The credentials step ran once and finished.
    const init = byService.get("init");
    expect(init?.State).toBe("exited");
    expect((await docker.getContainer(init!.Id).inspect()).State.ExitCode).toBe(0);
  });

  it("imports a catalog entry with a secret variable and lists it beside the starter catalog", async () => {
    expect(
      await berth(["servers", "import", "packages/cli/examples/team-everything.json"]),
    ).toMatch(/^imported io\.github\.acme\/team-everything /);
    const catalog = await berth(["servers", "list"]);
    expect(catalog).toMatch(/^io\.github\.modelcontextprotocol\/everything\s+STDIO\s+ACTIVE/m);
    expect(catalog).toMatch(/^io\.github\.acme\/team-everything\s+STDIO\s+ACTIVE/m);
  }, 180_000);

  it("creates an instance with a secret: the runtime in its container starts the workload", async () => {
    const out = await berth([
      "instances",
      "create",
      "compose-ev",
      "--server",
      "io.github.acme/team-everything",
      "--secret",
      `UPSTREAM_API_KEY=${secret}`,
      "--wait",
      "--timeout",
      "150",
    ]);
    expect(out).toContain(
      `compose-ev is RUNNING (generation 1); MCP: ${mesh.gatewayUrl}/mcp/compose-ev`,
    );
    const { instance } = await sdk.instances.getInstance({ id: "compose-ev" });
    instanceId = instance!.id;
    const running = (await containersOf(instanceId)).filter((c) => c.State === "running");
    expect(running).toHaveLength(1);
    expect(running[0]!.Labels["berth.test"]).toBe(runId);
    // The secret reached the server through the launcher the init step put on the host.
    const inspected = await docker.getContainer(running[0]!.Id).inspect();
    expect(JSON.stringify(inspected)).not.toContain(secret);
    expect(inspected.Mounts.map((m) => m.Source)).toContain(
      join(home, "launcher", "berth-launch.cjs"),
    );
  }, 240_000);

  it("calls a tool through the gateway's MCP proxy with the official MCP SDK client", async () => {
    const { key } = await sdk.apiKeys.createApiKey({
      apiKey: {
        displayName: "compose agent",
        scopes: [ApiKeyScope.MCP],
        instances: ["compose-ev"],
      },
    });
    const client = await connectMcp(`${mesh.gatewayUrl}/mcp/compose-ev`, {
      authorization: `Bearer ${key}`,
    });
    try {
      const result = await client.callTool({
        name: "echo",
        arguments: { message: "from compose" },
      });
      expect(result.content).toEqual([{ type: "text", text: "Echo: from compose" }]);
    } finally {
      await client.close();
    }
  }, 120_000);

  it("deletes the instance: no container or network of it remains", async () => {
    expect(await berth(["instances", "delete", "compose-ev", "--wait"])).toContain(
      "compose-ev is deleted",
    );
    const missing = await sdk.instances.getInstance({ id: instanceId }).catch((e: unknown) => e);
    expect((missing as BerthError).code).toBe("NOT_FOUND");
    const label = { label: [`berth.instance=${instanceId}`] };
    expect(await docker.listContainers({ all: true, filters: label })).toEqual([]);
    expect(await docker.listNetworks({ filters: label })).toEqual([]);
  }, 180_000);

  it("never shows a secret value: CLI output and every container's log", async () => {
    const logs = await mesh.compose(["logs", "--no-color"]);
    const everything = `${JSON.stringify(runs)}\n${logs}`;
    expect(everything).not.toContain(secret);
    for (const value of mesh.secretValues) expect(everything).not.toContain(value);
  });

  it("docker-compose down leaves no container, network, volume or listening port behind", async () => {
    await mesh.compose(["down", "-t", "20"], 180_000);
    expect(await docker.listContainers({ all: true, filters: projectFilter() })).toEqual([]);
    expect(await docker.listNetworks({ filters: projectFilter() })).toEqual([]);
    const { Volumes } = await docker.listVolumes({ filters: projectFilter() });
    expect(Volumes ?? []).toEqual([]);
    expect(
      await docker.listContainers({ all: true, filters: { label: [`berth.test=${runId}`] } }),
    ).toEqual([]);
    expect(await listening(mesh.ports)).toEqual([]);
  }, 240_000);
});
