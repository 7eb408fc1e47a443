import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ApiKeyScope,
  type BerthClient,
  type BerthError,
  createBerthClient,
  paginate,
} from "@berth/sdk";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BerthRun, runBerth } from "../../packages/cli/test/support/run-berth.js";
import { connectMcp } from "../../services/runtime/test/support/mcp-helpers.js";
import {
  containersOf,
  docker,
  newRunId,
  removeLeftovers,
  waitFor,
} from "../../services/runtime/test/support/runtime-harness.js";
import { busyConsumers, rowsMentioning, unsentOutboxRows } from "./support/leftovers.js";
import {
  groupMembers,
  isAlive,
  listening,
  type NpmStartMesh,
  npmStart,
} from "./support/npm-start.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

// A team's day with Berth, end to end: the mesh started by `npm start` (its own home and ports),
// driven by the `berth` CLI and @berth/sdk, MCP traffic through the gateway's proxy with the
// official MCP SDK client, and at the end nothing left behind: no container, no row beyond
// tombstones, no unacknowledged event, no process.
describe("a team's day: npm start, the CLI, the SDK and the MCP proxy", () => {
  const runId = newRunId();
  const home = mkdtempSync(join(tmpdir(), "berth-e2e-"));
  const server = "io.github.acme/team-everything";
  const firstSecret = `sk-day-${randomBytes(12).toString("hex")}`;
  const secondSecret = `sk-day-${randomBytes(12).toString("hex")}`;
  const runs: BerthRun[] = [];
  let mesh: NpmStartMesh;
  let berthSdk: BerthClient;
  let instanceId = "";
  let mcpKey = "";

  /** `berth <args>` as a user types it; fails the test on a non-zero exit. */
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
  const echoThroughGateway = async (message: string) => {
    const client: Client = await connectMcp(`${mesh.gatewayUrl}/mcp/team-ev`, {
      authorization: `Bearer ${mcpKey}`,
    });
    try {
      return await client.callTool({ name: "echo", arguments: { message } });
    } finally {
      await client.close();
    }
  };
  const running = async () =>
    (await containersOf(instanceId)).filter((container) => container.State === "running");

  beforeAll(async () => {
    chmodSync(home, 0o755); // Postgres runs as the postgres user and must reach its data folder
    // The runtime tags what it creates with the run id too, so a failed run can be swept up.
    mesh = await npmStart(home, { BERTH_RUNTIME_LABELS: `berth.test=${runId}` });
    berthSdk = createBerthClient({ baseUrl: mesh.gatewayUrl, apiKey: mesh.apiKey });
  }, 300_000);
  afterAll(async () => {
    if (mesh && mesh.child.exitCode === null) mesh.kill();
    await removeLeftovers(runId);
    // The Postgres data belongs to the postgres user: wait until it let go of the folder.
    await waitFor(
      "postgres stopped",
      async () => (mesh?.childPids().some(isAlive) ? undefined : true),
      30_000,
    ).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }, 90_000);

  it("npm start says where everything is and prints the bootstrap key once", () => {
    const output = mesh.output();
    expect(output).toContain(`Berth is up. Gateway: ${mesh.gatewayUrl} (REST, Connect, gRPC)`);
    expect(output).toContain(
      `(data: ${join(home, "postgres")}, password in ${home}/credentials.env)`,
    );
    expect(output.match(/BERTH_BOOTSTRAP_API_KEY=/g)).toHaveLength(1);
    const gatewayLog = readFileSync(join(home, "logs", "gateway.log"), "utf8");
    expect(gatewayLog).not.toContain(mesh.apiKey);
  });

  it("imports a catalog entry with a secret variable and lists it", async () => {
    // The README's command, with the example file it names.
    expect(
      await berth(["servers", "import", "packages/cli/examples/team-everything.json"]),
    ).toMatch(/^imported io\.github\.acme\/team-everything /);
    const catalog = await berth(["servers", "list"]);
    // The starter catalog came with the mesh; ours sits beside it.
    expect(catalog).toMatch(/^io\.github\.modelcontextprotocol\/everything\s+STDIO\s+ACTIVE/m);
    expect(catalog).toMatch(/^io\.github\.acme\/team-everything\s+STDIO\s+ACTIVE/m);
  });

  it("creates an instance with a secret and waits until it is RUNNING", async () => {
    const out = await berth([
      "instances",
      "create",
      "team-ev",
      "--server",
      server,
      "--secret",
      `UPSTREAM_API_KEY=${firstSecret}`,
      "--env",
      "GREETING=morning",
      "--wait",
      "--timeout",
      "120",
    ]);
    expect(out).toContain(`team-ev is RUNNING (generation 1); MCP: ${mesh.gatewayUrl}/mcp/team-ev`);
    const { instance } = await berthSdk.instances.getInstance({ id: "team-ev" });
    instanceId = instance!.id;
    expect(instance!.jsonSpec?.environment).toEqual({
      GREETING: "morning",
      UPSTREAM_API_KEY: `secret_ref:${instanceId}:UPSTREAM_API_KEY`,
    });
    expect(await running()).toHaveLength(1);
  }, 180_000);

  it("calls a tool through the gateway's MCP proxy with a key limited to that instance", async () => {
    const { key } = await berthSdk.apiKeys.createApiKey({
      apiKey: { displayName: "team agent", scopes: [ApiKeyScope.MCP], instances: ["team-ev"] },
    });
    mcpKey = key;
    const result = await echoThroughGateway("good morning");
    expect(result.content).toEqual([{ type: "text", text: "Echo: good morning" }]);
    expect(await berth(["instances", "tools", "team-ev"])).toMatch(/^echo\s+Echoes back/m);
  }, 60_000);

  it("rotates the secret: a new generation replaces the workload", async () => {
    const [before] = await running();
    const out = await berth([
      "instances",
      "set-secret",
      "team-ev",
      "--secret",
      `UPSTREAM_API_KEY=${secondSecret}`,
      "--wait",
    ]);
    expect(out).toContain("team-ev is RUNNING (generation 2)");
    const after = await running();
    expect(after).toHaveLength(1);
    expect(after[0]!.Id).not.toBe(before!.Id);
    expect(after[0]!.Labels["berth.generation"]).toBe("2");
    // Secret values reach the server through the runtime's launcher, never docker inspect.
    const inspected = await docker.getContainer(after[0]!.Id).inspect();
    expect(JSON.stringify(inspected)).not.toContain(secondSecret);
    const { workload } = await berthSdk.runtime.getWorkload({ instanceId });
    expect({ generation: workload!.generation, container: workload!.containerId }).toEqual({
      generation: 2n,
      container: after[0]!.Id,
    });
    expect((await echoThroughGateway("after rotation")).content).toEqual([
      { type: "text", text: "Echo: after rotation" },
    ]);
  }, 180_000);

  it("stops (no container runs) and starts again (RUNNING, serving tools)", async () => {
    expect(await berth(["instances", "stop", "team-ev", "--wait"])).toContain("team-ev is STOPPED");
    expect(await running()).toEqual([]);
    expect(await berth(["instances", "start", "team-ev", "--wait"])).toContain(
      "team-ev is RUNNING",
    );
    expect(await running()).toHaveLength(1);
    expect((await echoThroughGateway("back again")).content).toEqual([
      { type: "text", text: "Echo: back again" },
    ]);
  }, 180_000);

  it("deletes it and leaves nothing behind but tombstones", async () => {
    expect(await berth(["instances", "delete", "team-ev", "--wait"])).toContain(
      "team-ev is deleted",
    );
    const missing = await berthSdk.instances
      .getInstance({ id: instanceId })
      .catch((e: unknown) => e);
    expect((missing as BerthError).code).toBe("NOT_FOUND");
    const left = [];
    for await (const i of paginate(berthSdk.instances.listInstances, {}, (r) => r.instances))
      left.push(i);
    expect(left).toEqual([]);

    const label = { label: [`berth.instance=${instanceId}`] };
    expect(await docker.listContainers({ all: true, filters: label })).toEqual([]);
    expect(await docker.listNetworks({ filters: label })).toEqual([]);

    // Rows that still name the instance must be tombstones: the runtime's REMOVED workload,
    // the registry's deleted usage record, relayed outbox events, and the agent key's allow-list
    // (it holds instance ids, which are never reused: the key opens nothing now), and the audit
    // trail, which keeps who did what to the instance by design (until its retention).
    const rows = await rowsMentioning(mesh.databaseUrl, instanceId);
    const audit = rows.filter(({ table }) => table === "gateway.audit_records").map((r) => r.row);
    expect(audit.some((row) => row.kind === "change" && row.action === "created")).toBe(true);
    expect(audit.some((row) => row.kind !== "change" && row.tool === "echo")).toBe(true);
    const alive = rows.filter(
      ({ table, row }) =>
        table !== "gateway.audit_records" &&
        !(table === "runtime.workloads" && row.state === "REMOVED") &&
        !(table === "registry.server_usage" && row.deleted === true) &&
        !(table.endsWith(".outbox") && row.sent_at !== null) &&
        !(table === "gateway.api_keys" && (row.instances as string[]).includes(instanceId)),
    );
    expect(alive).toEqual([]);
    expect(rows.some((r) => r.table === "runtime.workloads")).toBe(true);
    expect(await unsentOutboxRows(mesh.databaseUrl)).toEqual([]);

    // Every durable consumer has read and acknowledged everything (settling takes a moment).
    const busy = await waitFor(
      "every durable consumer idle",
      async () => {
        const now = await busyConsumers(mesh.natsUrl);
        return now.length === 0 ? now : undefined;
      },
      30_000,
    ).catch(async () => busyConsumers(mesh.natsUrl));
    expect(busy).toEqual([]);
  }, 180_000);

  it("never shows a secret value: CLI output, npm start's output, service logs", () => {
    const logs = readdirSync(join(home, "logs")).map((f) =>
      readFileSync(join(home, "logs", f), "utf8"),
    );
    const everything = [JSON.stringify(runs), mesh.output(), ...logs].join("\n");
    expect(everything).not.toContain(firstSecret);
    expect(everything).not.toContain(secondSecret);
  });

  it("stops on Ctrl-C, cleanly, and leaves no process or port behind", async () => {
    const pids = mesh.childPids();
    expect(pids.length).toBeGreaterThanOrEqual(6); // four services, NATS, Postgres
    const how = await mesh.interrupt();
    // npm passes a Ctrl-C on as its own end (the shell shows 130) once its script has exited;
    // scripts/start.ts prints "Stopped." only on a clean stop, right before exit code 0.
    expect(how.signal === "SIGINT" || how.code === 130 || how.code === 0).toBe(true);
    expect(mesh.output()).toMatch(/Logs: .*\nStopping Berth…\nStopped\.\n$/);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(groupMembers(mesh.child.pid!)).toEqual([]);
    expect(await listening(mesh.ports)).toEqual([]);
  }, 90_000);
});
