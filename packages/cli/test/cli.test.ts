import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useEngines } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ensureImages,
  leftovers,
  newRunId,
  removeLeftovers,
} from "../../../services/runtime/test/support/runtime-harness.js";
import { startMesh, type TestMesh } from "../../../test/support/mesh.js";
import { runBerth, startBerth } from "./support/run-berth.js";
import { writeServerJsonCopy } from "./support/server-json.js";

// The CLI as users run it: a real `berth` process against the gateway of a real mesh
// (registry, instances, runtime on Docker), reading only what it prints and its exit code.
describe("berth, the command line", () => {
  const runId = newRunId();
  const secret = `sk-cli-${randomBytes(12).toString("hex")}`;
  const server = "io.github.acme/cli-everything";
  const work = mkdtempSync(join(tmpdir(), "berth-cli-"));
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;
  const berth = (args: string[], options: { apiKey?: string; input?: string } = {}) =>
    runBerth(args, { url: mesh.gateway.url, apiKey: mesh.apiKey, timeoutMs: 90_000, ...options });

  beforeAll(async () => {
    await ensureImages();
    engines = await useEngines();
    mesh = await startMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: {
        BERTH_RUNTIME_LABELS: `berth.test=${runId}`,
        RECONCILE_INTERVAL_MS: "2000",
        REGISTRY_LOAD_CATALOG: "false",
      },
    });
  });
  afterAll(async () => {
    await mesh?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it("imports, lists, shows and deletes catalog entries", async () => {
    const file = writeServerJsonCopy(work, server);
    const imported = await berth(["servers", "import", file]);
    expect(imported).toMatchObject({ code: 0, stderr: "" });
    expect(imported.stdout).toMatch(/^imported io\.github\.acme\/cli-everything \([0-9a-f-]{36}\)/);
    expect((await berth(["servers", "import", file])).stdout).toMatch(/^unchanged: /);

    const list = await berth(["servers", "list"]);
    expect(list.stdout.split("\n")[0]).toMatch(/^NAME\s+TRANSPORT\s+STATUS\s+IMAGE\s+ID$/);
    expect(list.stdout).toMatch(
      /io\.github\.acme\/cli-everything\s+STDIO\s+ACTIVE\s+berth\/mcp-everything:stdio/,
    );

    const got = await berth(["servers", "get", server, "--output", "json"]);
    const json = JSON.parse(got.stdout);
    expect(json).toMatchObject({ name: server, transport: "TRANSPORT_STDIO" });
    expect(json.envSchema).toEqual([
      expect.objectContaining({ name: "UPSTREAM_API_KEY", required: true, secret: true }),
      expect.objectContaining({ name: "GREETING" }),
    ]);

    const other = writeServerJsonCopy(work, "io.github.acme/short-lived");
    await berth(["servers", "import", other]);
    expect((await berth(["servers", "delete", "io.github.acme/short-lived"])).stdout).toMatch(
      /^deleted io\.github\.acme\/short-lived/,
    );
    const gone = await berth(["servers", "get", "io.github.acme/short-lived"]);
    expect(gone).toMatchObject({
      code: 1,
      stdout: "",
      stderr: 'berth: NOT_FOUND: server "io.github.acme/short-lived" not found\n',
    });
  });

  it("prints one clear line per failure and exits non-zero", async () => {
    const usage = await berth([
      "instances",
      "create",
      "x",
      "--secret",
      `=${secret}`,
      "--server",
      server,
    ]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe(
      'berth: --secret needs NAME=VALUE with NAME a variable name\nRun "berth --help" for usage.\n',
    );
    const invalid = await berth([
      "instances",
      "create",
      "Bad Name",
      "--server",
      server,
      "--env",
      "NOPE=1",
      "--secret",
      `UPSTREAM_API_KEY=${secret}`,
    ]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr.split("\n")).toEqual([
      "berth: INVALID_ARGUMENT: 2 problems",
      "  instance.name: must be lowercase letters, digits and dashes (at most 63), like my-server",
      `  instance.json_spec.environment.NOPE: is not a variable of server "${server}"`,
      "",
    ]);
    const anonymous = await berth(["servers", "list"], { apiKey: "" });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(
      /^berth: UNAUTHENTICATED: .*\(set BERTH_API_KEY or pass --api-key\)\n$/,
    );
    const nowhere = await runBerth(["servers", "list"], { url: "http://127.0.0.1:1" });
    expect(nowhere).toMatchObject({ code: 1 });
    expect(nowhere.stderr).toMatch(
      /^berth: UNAVAILABLE: cannot reach Berth at http:\/\/127\.0\.0\.1:1/,
    );
    for (const run of [usage, invalid]) expect(run.stdout + run.stderr).not.toContain(secret);
  });

  it("runs an instance through its life: create --wait, tools, logs, set-secret, stop, start, restart, delete", async () => {
    const created = await berth([
      "instances",
      "create",
      "cli-ev",
      "--server",
      server,
      "--env",
      "GREETING=hi",
      "--secret",
      `UPSTREAM_API_KEY=${secret}`,
      "--wait",
      "--timeout",
      "60",
    ]);
    expect(created).toMatchObject({ code: 0, stderr: "" });
    expect(created.stdout).toMatch(/cli-ev\s+RUNNING\s+generation 1/);
    expect(created.stdout).toContain(
      `cli-ev is RUNNING (generation 1); MCP: ${mesh.gateway.url}/mcp/cli-ev`,
    );

    const shown = JSON.parse((await berth(["instances", "get", "cli-ev", "-o", "json"])).stdout);
    expect(shown).toMatchObject({
      name: "cli-ev",
      status: "INSTANCE_STATUS_RUNNING",
      generation: "1",
    });
    expect(shown.jsonSpec.environment).toEqual({
      GREETING: "hi",
      UPSTREAM_API_KEY: `secret_ref:${shown.id}:UPSTREAM_API_KEY`,
    });
    const table = await berth(["instances", "get", "cli-ev"]);
    expect(table.stdout).toMatch(/^env:\s+GREETING=hi UPSTREAM_API_KEY=\(secret\)$/m);

    const tools = await berth(["instances", "tools", "cli-ev"]);
    expect(tools.stdout).toMatch(/^echo\s+Echoes back the input string$/m);
    // The runtime that owns the workload (its lease) and where it runs.
    const workload = await berth(["instances", "workload", "cli-ev"]);
    expect(workload.stdout).toMatch(/^owner\s+[A-Za-z0-9_.-]+$/m);
    expect(workload.stdout).toMatch(/^state\s+RUNNING$/m);
    expect(workload.stdout).toMatch(/^engine\s+\S+/m);
    const logs = await berth(["instances", "logs", "cli-ev", "--tail", "5"]);
    expect(logs.code).toBe(0);
    expect(logs.stdout.trim().split("\n").length).toBeGreaterThan(0);
    const watched = await berth(["instances", "watch", "cli-ev", "--timeout", "30"]);
    expect(watched).toMatchObject({ code: 0 });
    expect(watched.stdout).toMatch(/cli-ev {2}RUNNING {2}generation 1/);

    const rotated = await berth(
      ["instances", "set-secret", "cli-ev", "--secret", "UPSTREAM_API_KEY", "--wait"],
      {
        input: `${secret}-2\n`,
      },
    );
    expect(rotated).toMatchObject({ code: 0, stderr: "" });
    expect(rotated.stdout).toContain("set UPSTREAM_API_KEY on cli-ev");
    expect(rotated.stdout).toContain("cli-ev is RUNNING (generation 2)");

    const stopped = await berth(["instances", "stop", "cli-ev", "--wait"]);
    expect(stopped.stdout).toContain("cli-ev is STOPPED (generation 2)");
    expect((await leftovers(runId)).containers.filter((c) => c.State === "running")).toEqual([]);

    // Nothing will change while it is stopped: watch waits until Ctrl-C, then exits 130.
    const watch = startBerth(["instances", "watch", "cli-ev"], {
      url: mesh.gateway.url,
      apiKey: mesh.apiKey,
    });
    await waitForText(watch.stdout, "STOPPED");
    watch.child.kill("SIGINT");
    expect(await watch.done).toMatchObject({ code: 130, stderr: "" });

    expect((await berth(["instances", "start", "cli-ev", "--wait"])).stdout).toContain(
      "cli-ev is RUNNING (generation 2)",
    );
    const restarted = await berth(["instances", "restart", "cli-ev", "--wait", "-o", "json"]);
    expect(JSON.parse(restarted.stdout)).toMatchObject({
      status: "INSTANCE_STATUS_RUNNING",
      generation: "3",
    });
    expect(restarted.stderr).toMatch(/cli-ev {2}STARTING {2}generation 3/);

    const list = await berth(["instances", "list"]);
    expect(list.stdout).toMatch(/^cli-ev\s+RUNNING\s+RUNNING\s+3\s+[0-9a-f-]{36}/m);
    const deleted = await berth(["instances", "delete", "cli-ev", "--wait"]);
    expect(deleted).toMatchObject({ code: 0, stderr: "" });
    expect(deleted.stdout).toContain("cli-ev is deleted");
    expect((await berth(["instances", "list"])).stdout).toBe(
      "NAME  STATUS  DESIRED  GEN  ID  MESSAGE\n",
    );
    const left = await leftovers(runId);
    expect({ containers: left.containers.length, networks: left.networks.length }).toEqual({
      containers: 0,
      networks: 0,
    });

    const everything = [
      created,
      shown,
      table,
      tools,
      logs,
      watched,
      rotated,
      stopped,
      restarted,
      deleted,
    ];
    expect(JSON.stringify(everything)).not.toContain(secret);
  }, 240_000);

  it("creates, lists and revokes API keys; a read key cannot write", async () => {
    const created = await berth(["api-keys", "create", "--name", "ci reader", "--scope", "read"]);
    expect(created.code).toBe(0);
    const key = /^key:\s+(berth_\S+)$/m.exec(created.stdout)?.[1];
    const id = /^id:\s+(\S+)$/m.exec(created.stdout)?.[1];
    expect(key).toMatch(/^berth_[0-9a-f]{16}_/);
    expect((await berth(["api-keys", "list"])).stdout).toMatch(
      new RegExp(`^${id}\\s+ci reader\\s+read\\s+ACTIVE`, "m"),
    );
    expect((await berth(["servers", "list"], { apiKey: key! })).code).toBe(0);
    const write = await berth(["instances", "create", "nope", "--server", server], {
      apiKey: key!,
    });
    expect(write.code).toBe(1);
    expect(write.stderr).toMatch(/^berth: PERMISSION_DENIED: /);
    expect((await berth(["api-keys", "revoke", id!])).stdout).toMatch(/^state:\s+REVOKED$/m);
    const revoked = await berth(["servers", "list"], { apiKey: key! });
    expect(revoked.stderr).toMatch(/^berth: UNAUTHENTICATED: /);
    expect((await berth(["api-keys", "list", "-o", "json"])).stdout).not.toContain(key!);
  });
});

/** Waits (bounded) until the running command has printed text. */
async function waitForText(output: () => string, text: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!output().includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms: ${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
