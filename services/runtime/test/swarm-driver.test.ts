import { randomBytes, randomUUID } from "node:crypto";
import { type AddressInfo, createServer } from "node:net";
import {
  McpServerInstanceCreatedSchema,
  McpServerInstanceDeletedSchema,
  McpServerInstanceStartedSchema,
  McpServerInstanceStoppedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { InstanceStatus } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { findFreePort, useEngines } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMesh, type TestMesh } from "../../../test/support/mesh.js";
import { type ServiceProcess, spawnService } from "../../../test/support/service-process.js";
import { createSwarmDriver, type SwarmDriver } from "../src/drivers/swarm/swarm-driver.js";
import type { Runtime } from "../src/index.js";
import { parseSpec } from "../src/spec/parse-spec.js";
import type { DockerSpec } from "../src/spec/types.js";
import { connectMcp, statusEvents } from "./support/mcp-helpers.js";
import { REACH_SCRIPT } from "./support/reach-script.js";
import {
  createPublisher,
  docker,
  type EventPublisher,
  ensureImages,
  IMAGES,
  instanceSnapshot,
  leftovers,
  newRunId,
  removeLeftovers,
  runtimeClient,
  runtimeTestEnv,
  startTestRuntime,
  waitFor,
} from "./support/runtime-harness.js";

// The Swarm driver against the engine's real single-node Swarm (scripts/bootstrap.sh runs
// `docker swarm init`): the Docker driver's scenarios, and what only Swarm has (services, tasks,
// Swarm secrets, overlay networks).

/** The Swarm services of one instance (by label), with their tasks. */
async function servicesOf(instanceId: string) {
  return docker.listServices({ filters: { label: [`berth.instance=${instanceId}`] } });
}

/** The running task container of an instance's one service. */
async function taskContainerOf(instanceId: string) {
  const [service] = await servicesOf(instanceId);
  if (!service) return undefined;
  const tasks = (await docker.listTasks({ filters: { service: [service.ID] } })) as Array<{
    Status: { State: string; ContainerStatus?: { ContainerID?: string } };
  }>;
  const id = tasks.find((t) => t.Status.State === "running")?.Status.ContainerStatus?.ContainerID;
  return id ? docker.getContainer(id) : undefined;
}

/** Plain containers of an instance that are not Swarm tasks (its port guard). */
async function guardsOf(instanceId: string) {
  return docker.listContainers({
    all: true,
    filters: { label: [`berth.instance=${instanceId}`, "berth.role=guard"] },
  });
}

/**
 * The run's leftovers once none is left, or as they are after 30 s: a removed overlay network
 * stays listed on the node for a moment after Swarm deleted it.
 */
async function whenAllGone(runId: string) {
  return waitFor(
    "every object of the run gone",
    async () => {
      const found = await leftovers(runId);
      const count = Object.values(found).reduce((n, list) => n + list.length, 0);
      return count === 0 ? found : undefined;
    },
    30_000,
  ).catch(() => leftovers(runId));
}

describe("swarm driver: instances run as Swarm services, through the runtime", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let env: Record<string, string>;
  let runtime: Runtime;
  let publisher: EventPublisher;
  let client: ReturnType<typeof runtimeClient>;
  const httpSpec = {
    type: "docker",
    image: IMAGES.http,
    transport: "http",
    port: 3001,
    resources: { memory_limit: "256m", cpu_limit: "0.5", pids_limit: 64 },
    health_check: { interval: 2, timeout: 5 },
  };
  const stdioSpec = {
    type: "docker",
    image: IMAGES.stdio,
    transport: "stdio",
    environment: { GREETING: "hello" },
    health_check: { interval: 2, timeout: 5 },
  };
  const http = instanceSnapshot({ spec: httpSpec });
  const stdio = instanceSnapshot({ spec: stdioSpec });

  const reaches = (instanceId: string, state: WorkloadState, generation = 1n) =>
    waitFor(
      `${instanceId} ${WorkloadState[state]} at generation ${generation}`,
      async () => {
        const { workload } = await client.getWorkload({ instanceId });
        return workload?.state === state && workload.generation === generation
          ? workload
          : undefined;
      },
      60_000,
    );
  const publishCreated = (instance: ReturnType<typeof instanceSnapshot>) =>
    publisher.publish(
      McpServerInstanceCreatedSchema,
      create(McpServerInstanceCreatedSchema, { instance }),
      1,
      instance.id,
    );

  beforeAll(async () => {
    await ensureImages();
    engines = await useEngines();
    env = runtimeTestEnv(engines, runId, { BERTH_RUNTIME_DOCKER_DRIVER: "swarm" });
    runtime = await startTestRuntime(env);
    publisher = await createPublisher(engines.natsUrl);
    client = runtimeClient(runtime.port);
    await publishCreated(http);
    await publishCreated(stdio);
  }, 120_000);
  afterAll(async () => {
    await publisher?.close();
    await runtime?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("runs an http server as a hardened one-replica service reached only through its guard", async () => {
    await reaches(http.id, WorkloadState.RUNNING);
    const services = await servicesOf(http.id);
    expect(services).toHaveLength(1);
    const spec = services[0]!.Spec!;
    expect(spec.Name).toBe(`berth-${http.id}-g1`);
    expect(spec.Labels).toMatchObject({
      "berth.managed": "swarm",
      "berth.scope": runtime.scope,
      "berth.instance": http.id,
      "berth.generation": "1",
    });
    expect(spec.Mode).toEqual({ Replicated: { Replicas: 1 } });
    // Swarm restarts nothing: Berth's supervisor decides, with its backoff.
    expect(spec.TaskTemplate).toMatchObject({
      RestartPolicy: { Condition: "none" },
      Resources: { Limits: { MemoryBytes: 256 * 1024 * 1024, NanoCPUs: 5e8, Pids: 64 } },
    });
    // Nothing published, no virtual IP: Swarm's published ports would bind every interface.
    expect(spec.EndpointSpec).toEqual({ Mode: "dnsrr" });
    expect(services[0]!.Endpoint?.Ports ?? []).toEqual([]);

    const task = await taskContainerOf(http.id);
    const info = await task!.inspect();
    expect(info.Config.User).toBe("65534:65534");
    expect(info.HostConfig).toMatchObject({
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      Memory: 256 * 1024 * 1024,
      NanoCpus: 5e8,
      PidsLimit: 64,
    });
    expect(info.HostConfig.PortBindings ?? {}).toEqual({});
    // Its only network: the instance's internal overlay.
    expect(Object.keys(info.NetworkSettings.Networks)).toEqual([`berth-${http.id}-swarm`]);
    const overlay = await docker.getNetwork(`berth-${http.id}-swarm`).inspect();
    expect(overlay).toMatchObject({ Driver: "overlay", Internal: true, Attachable: true });

    // The port guard: a plain container published on 127.0.0.1 only, joined to the overlay.
    const [guard] = await guardsOf(http.id);
    const guardInfo = await docker.getContainer(guard!.Id).inspect();
    const bindings = guardInfo.NetworkSettings.Ports["8080/tcp"] ?? [];
    expect(bindings.map((b) => b.HostIp)).toEqual(["127.0.0.1"]);
    expect(Object.keys(guardInfo.NetworkSettings.Networks).sort()).toEqual(
      [`berth-${http.id}-swarm`, `berth-${http.id}-swarm-edge`].sort(),
    );

    const endpoint = await client.resolveEndpoint({ instanceId: http.id });
    expect(endpoint.url).toBe(`http://127.0.0.1:${bindings[0]!.HostPort}/mcp`);
    const anonymous = await fetch(endpoint.url, { method: "POST", body: "{}" });
    expect(anonymous.status).toBe(401);
    const mcp = await connectMcp(endpoint.url, endpoint.headers);
    try {
      const sum = await mcp.callTool({ name: "get-sum", arguments: { a: 2, b: 3 } });
      expect(JSON.stringify(sum.content)).toContain("5");
    } finally {
      await mcp.close();
    }
    const { tools } = await client.listInstanceTools({ instanceId: http.id });
    expect(tools.map((t) => t.name)).toContain("get-sum");
  });

  it("bridges an stdio server attached through its task's container", async () => {
    const workload = await reaches(stdio.id, WorkloadState.RUNNING);
    expect(workload).toMatchObject({ driver: "docker", restartCount: 0 });
    const task = await taskContainerOf(stdio.id);
    const info = await task!.inspect();
    expect(workload.containerId).toBe(info.Id);
    expect(info.Config.OpenStdin).toBe(true);
    expect(info.Config.Env).toContain("GREETING=hello");
    // No "none" network exists for Swarm services: an internal overlay with nothing else on it.
    expect(Object.keys(info.NetworkSettings.Networks)).toEqual([`berth-${stdio.id}-swarm`]);
    expect((await guardsOf(stdio.id)).length).toBe(0);

    const endpoint = await client.resolveEndpoint({ instanceId: stdio.id });
    expect(endpoint.url).toBe(`http://127.0.0.1:${runtime.bridgePort}/instances/${stdio.id}/mcp`);
    const mcp = await connectMcp(endpoint.url, endpoint.headers);
    try {
      const result = await mcp.callTool({ name: "echo", arguments: { message: "via swarm" } });
      expect(result.content).toEqual([{ type: "text", text: "Echo: via swarm" }]);
    } finally {
      await mcp.close();
    }
    const lines: string[] = [];
    for await (const line of client.streamLogs({ instanceId: stdio.id, tailLines: 1000 })) {
      lines.push(line.line);
    }
    expect(lines).toContain("Starting default (STDIO) server...");
  });

  it("replaces a killed task's service and says what happened", async () => {
    const before = await taskContainerOf(stdio.id);
    const [oldService] = await servicesOf(stdio.id);
    await before!.kill();
    const workload = await waitFor(
      "a replacement service, RUNNING",
      async () => {
        const { workload } = await client.getWorkload({ instanceId: stdio.id });
        const services = await servicesOf(stdio.id);
        if (
          workload?.state === WorkloadState.RUNNING &&
          workload.restartCount >= 1 &&
          services.length === 1 &&
          services[0]!.ID !== oldService!.ID
        ) {
          return workload;
        }
        // Said when the wait ends: what was seen last.
        throw new Error(
          `${WorkloadState[workload?.state ?? 0]} (${workload?.message}), restarts ${workload?.restartCount}, services ${services.map((s) => s.ID).join(",")}`,
        );
      },
      60_000,
    );
    expect(workload.restartCount).toBeGreaterThanOrEqual(1);
    const events = await statusEvents(
      engines.natsUrl,
      stdio.id,
      (all) =>
        all.some((e) => e.status === InstanceStatus.UNHEALTHY) &&
        all.at(-1)?.status === InstanceStatus.RUNNING,
    );
    const crash = events.find((e) => e.status === InstanceStatus.UNHEALTHY);
    expect(crash?.message).toMatch(/container exited with code 137; restart 1 of 5/);
    const endpoint = await client.resolveEndpoint({ instanceId: stdio.id });
    const mcp = await connectMcp(endpoint.url, endpoint.headers);
    try {
      const again = await mcp.callTool({ name: "echo", arguments: { message: "again" } });
      expect(again.content).toEqual([{ type: "text", text: "Echo: again" }]);
    } finally {
      await mcp.close();
    }
  }, 120_000);

  it("keeps nothing running when stopped, and starts again on start", async () => {
    const stopped = instanceSnapshot({
      id: http.id,
      spec: httpSpec,
      generation: 1,
      revision: 2,
      desired: "stopped",
    });
    await publisher.publish(
      McpServerInstanceStoppedSchema,
      create(McpServerInstanceStoppedSchema, { instance: stopped }),
      2,
      http.id,
    );
    await reaches(http.id, WorkloadState.STOPPED);
    expect(await servicesOf(http.id)).toEqual([]);
    expect(await guardsOf(http.id)).toEqual([]);

    const started = instanceSnapshot({ id: http.id, spec: httpSpec, generation: 2, revision: 3 });
    await publisher.publish(
      McpServerInstanceStartedSchema,
      create(McpServerInstanceStartedSchema, { instance: started }),
      3,
      http.id,
    );
    await reaches(http.id, WorkloadState.RUNNING, 2n);
    const services = await servicesOf(http.id);
    expect(services.map((s) => s.Spec?.Labels?.["berth.generation"])).toEqual(["2"]);
  });

  it("adopts its services after a runtime restart and collects a stray one, with no duplicate", async () => {
    const before = {
      http: (await servicesOf(http.id)).map((s) => s.ID),
      stdio: (await servicesOf(stdio.id)).map((s) => s.ID),
      guard: (await guardsOf(http.id)).map((c) => c.Id),
    };
    await runtime.stop();
    // A service of this runtime's scope whose instance nobody knows.
    const imageId = (await docker.getImage(IMAGES.stdio).inspect()).Id;
    const strayLabels = {
      "berth.managed": "swarm",
      "berth.scope": runtime.scope,
      "berth.instance": randomUUID(),
      "berth.generation": "1",
      "berth.test": runId,
    };
    const stray = await docker.createService({
      Name: `berth-stray-${runId}`,
      Labels: strayLabels,
      TaskTemplate: {
        ContainerSpec: { Image: imageId, OpenStdin: true, Labels: strayLabels },
        RestartPolicy: { Condition: "none" },
      },
    });

    runtime = await startTestRuntime(env);
    client = runtimeClient(runtime.port);
    await reaches(http.id, WorkloadState.RUNNING, 2n);
    await reaches(stdio.id, WorkloadState.RUNNING);
    await waitFor(
      "the stray service to be removed",
      async () => {
        const found = await docker.listServices({ filters: { id: [stray.id] } });
        return found.length === 0 ? true : undefined;
      },
      30_000,
    );
    expect((await servicesOf(http.id)).map((s) => s.ID)).toEqual(before.http);
    expect((await servicesOf(stdio.id)).map((s) => s.ID)).toEqual(before.stdio);
    expect((await guardsOf(http.id)).map((c) => c.Id)).toEqual(before.guard);
    // The adopted stdio server answers through the new runtime's bridge.
    const endpoint = await client.resolveEndpoint({ instanceId: stdio.id });
    const mcp = await connectMcp(endpoint.url, endpoint.headers);
    try {
      await mcp.callTool({ name: "echo", arguments: { message: "adopted" } });
    } finally {
      await mcp.close();
    }
  }, 120_000);

  it("gives a server no route to the host or the internet from its internal overlay", async () => {
    let dialled = 0;
    const listener = createServer((socket) => {
      dialled += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, "0.0.0.0", resolve));
    const bridge = await docker.getNetwork("bridge").inspect();
    const hostBridge = bridge.IPAM?.Config?.[0]?.Gateway ?? "172.17.0.1";
    const probe = instanceSnapshot({
      spec: {
        type: "docker",
        image: IMAGES.http,
        transport: "http",
        port: 3001,
        command: ["/usr/local/bin/node", "-e", REACH_SCRIPT],
        environment: {
          PROBE_PORT: String((listener.address() as AddressInfo).port),
          PROBE_HOSTS: [hostBridge, "host.docker.internal", "1.1.1.1"].join(","),
        },
        health_check: { interval: 30, timeout: 5 },
      },
    });
    try {
      await publishCreated(probe);
      const lines = await waitFor(
        "the reach script's report",
        async () => {
          const task = await taskContainerOf(probe.id);
          if (!task) return undefined;
          const text = (await task.logs({ stdout: true, stderr: true, follow: false })).toString();
          if (!text.includes("REACH done")) return undefined;
          return [...text.matchAll(/REACH (\S+) (\S+)/g)]
            .filter((m) => m[1] !== "done")
            .map((m) => ({ host: m[1]!, result: m[2]! }));
        },
        60_000,
      );
      // The three hosts and the overlay's own first address.
      expect(lines.length).toBeGreaterThanOrEqual(4);
      for (const line of lines) expect(line.result, line.host).not.toBe("ok");
      expect(dialled).toBe(0);
    } finally {
      await new Promise((resolve) => listener.close(resolve));
      await publisher.publish(
        McpServerInstanceDeletedSchema,
        create(McpServerInstanceDeletedSchema, { instanceId: probe.id, generation: 1n }),
        2,
        probe.id,
      );
    }
  }, 120_000);

  it("removes services, guards, networks, secrets and configs on delete", async () => {
    for (const [instance, generation] of [
      [http, 2n],
      [stdio, 1n],
    ] as const) {
      await publisher.publish(
        McpServerInstanceDeletedSchema,
        create(McpServerInstanceDeletedSchema, { instanceId: instance.id, generation }),
        9,
        instance.id,
      );
    }
    for (const instance of [http, stdio]) {
      await statusEvents(engines.natsUrl, instance.id, (all) => all.some((e) => e.removed));
    }
    const left = await whenAllGone(runId);
    expect(left).toEqual({ containers: [], networks: [], services: [], secrets: [], configs: [] });
  });
});

describe("swarm driver: secrets as Swarm secrets", () => {
  const runId = newRunId();
  let driver: SwarmDriver;
  const instanceId = randomUUID();
  const value = `s3cret-${randomBytes(8).toString("hex")}`;

  beforeAll(async () => {
    await ensureImages();
    driver = createSwarmDriver(
      docker,
      { scope: `test-${runId}`, extra: { "berth.test": runId } },
      { guardImage: "berth/mcp-guard:1", guardSecret: randomBytes(32).toString("hex") },
    );
  });
  afterAll(async () => {
    driver?.close();
    await removeLeftovers(runId);
  });

  it("reach the server's environment but no inspect of the service, task, container or secret", async () => {
    const parsed = parseSpec({
      type: "docker",
      image: IMAGES.http,
      transport: "http",
      port: 3001,
      environment: { PLAIN: "visible" },
    });
    if (!parsed.ok) throw new Error(parsed.message);
    const handle = await driver.ensure({
      instanceId,
      generation: 1,
      spec: parsed.spec as DockerSpec,
      secretEnv: { API_TOKEN: value },
    });
    const mcp = await waitFor("the server to answer through its guard", () =>
      connectMcp(handle.endpoint, handle.headers).catch(() => undefined),
    );
    try {
      const env = await mcp.callTool({ name: "get-env", arguments: {} });
      expect(JSON.stringify(env.content)).toContain(value);
      expect(JSON.stringify(env.content)).toContain("visible");
    } finally {
      await mcp.close();
    }
    const [service] = await servicesOf(instanceId);
    const serviceInfo = await docker.getService(service!.ID).inspect();
    const tasks = await docker.listTasks({ filters: { service: [service!.ID] } });
    const container = await docker.getContainer(handle.containerId!).inspect();
    const secrets = await docker.listSecrets({ filters: { label: [`berth.test=${runId}`] } });
    expect(secrets.map((s) => s.Spec?.Name)).toEqual([`berth-${instanceId}-g1-env`]);
    const secretInfo = await docker.getSecret(secrets[0]!.ID).inspect();
    for (const [what, object] of Object.entries({ serviceInfo, tasks, container, secretInfo })) {
      expect(JSON.stringify(object), what).not.toContain(value);
    }
    // The container's environment names the file, not the value; the file is the secret's.
    expect(container.Config.Env).toContain("BERTH_SECRETS_FILE=/run/secrets/berth-env");
    expect(serviceInfo.Spec.TaskTemplate.ContainerSpec.Secrets).toEqual([
      expect.objectContaining({
        SecretName: `berth-${instanceId}-g1-env`,
        File: { Name: "berth-env", UID: "65534", GID: "65534", Mode: 0o400 },
      }),
    ]);

    // The idle policy's sleep: nothing runs or holds the secret; the networks stay for the wake.
    await driver.sleep(instanceId);
    const asleep = await leftovers(runId);
    expect(asleep).toMatchObject({ containers: [], services: [], secrets: [], configs: [] });
    expect(asleep.networks.map((n) => n.Name).sort()).toEqual(
      [`berth-${instanceId}-swarm`, `berth-${instanceId}-swarm-edge`].sort(),
    );
    expect(await driver.inspect(instanceId)).toEqual([]);

    await driver.remove(instanceId);
    const left = await whenAllGone(runId);
    expect(left).toEqual({ containers: [], networks: [], services: [], secrets: [], configs: [] });
    expect(await driver.inspect(instanceId)).toEqual([]);
  });
});

describe("swarm driver: a runtime killed between service start and health", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let publisher: EventPublisher;
  let env: Record<string, string>;
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    await ensureImages();
    engines = await useEngines();
    publisher = await createPublisher(engines.natsUrl);
    env = runtimeTestEnv(engines, runId, { BERTH_RUNTIME_DOCKER_DRIVER: "swarm" });
  }, 120_000);
  afterAll(async () => {
    for (const process of processes) await process.stop();
    await publisher?.close();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("leaves exactly one service, adopted by the next runtime", async () => {
    const instance = instanceSnapshot({
      spec: {
        type: "docker",
        image: IMAGES.stdio,
        transport: "stdio",
        health_check: { interval: 2, timeout: 5 },
      },
    });
    await publisher.publish(
      McpServerInstanceCreatedSchema,
      create(McpServerInstanceCreatedSchema, { instance }),
      1,
      instance.id,
    );
    const doomed = spawnService("runtime", {
      ...env,
      BERTH_FAILPOINTS: "runtime.after-container-start",
    });
    processes.push(doomed);
    const exit = await Promise.race([
      doomed.exited,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no crash: ${doomed.output().stderr}`)), 90_000),
      ),
    ]);
    expect(exit).toEqual({ code: null, signal: "SIGKILL" });
    const [orphan] = await servicesOf(instance.id);
    expect(orphan).toBeDefined();

    const port = await findFreePort();
    const revived = spawnService("runtime", { ...env, GRPC_PORT: String(port) });
    processes.push(revived);
    const client = runtimeClient(port);
    await waitFor(
      "RUNNING under the new runtime",
      async () => {
        const { workload } = await client.getWorkload({ instanceId: instance.id });
        return workload?.state === WorkloadState.RUNNING ? workload : undefined;
      },
      120_000,
    );
    const services = await servicesOf(instance.id);
    expect(services.map((s) => s.ID)).toEqual([orphan!.ID]);
    expect(await taskContainerOf(instance.id)).toBeDefined();
    const endpoint = await client.resolveEndpoint({ instanceId: instance.id });
    const mcp = await connectMcp(endpoint.url, endpoint.headers);
    try {
      const result = await mcp.callTool({
        name: "echo",
        arguments: { message: "after the crash" },
      });
      expect(result.content).toEqual([{ type: "text", text: "Echo: after the crash" }]);
    } finally {
      await mcp.close();
    }
    expect(await revived.stop()).toEqual({ code: 0, signal: null });
  }, 300_000);
});

// What a user does, with the runtime on Swarm: catalog entry and instance with a secret through
// the gateway's REST API, MCP through the gateway's /mcp/{instance}, delete.
describe("swarm driver: an instance with a secret through the gateway", () => {
  const runId = newRunId();
  const secretValue = `sk-swarm-${randomBytes(12).toString("hex")}`;
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;

  beforeAll(async () => {
    await ensureImages();
    engines = await useEngines();
    mesh = await startMesh(engines, {
      services: ["registry", "instances", "runtime"],
      env: {
        BERTH_RUNTIME_DOCKER_DRIVER: "swarm",
        BERTH_RUNTIME_LABELS: `berth.test=${runId}`,
        RECONCILE_INTERVAL_MS: "2000",
      },
    });
  }, 120_000);
  afterAll(async () => {
    await mesh?.stop();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  const rest = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${mesh.gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${mesh.apiKey}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("runs it as a Swarm service, answers MCP calls with the secret in place, and deletes it", async () => {
    const server = await rest("POST", "/v1/servers", {
      name: `swarm-ev-${runId}`,
      image: IMAGES.stdio,
      transport: "TRANSPORT_STDIO",
      envSchema: [{ name: "API_KEY", type: "ENV_VAR_TYPE_STRING", required: true, secret: true }],
    });
    expect(server.status).toBe(200);
    const created = await rest("POST", "/v1/instances", {
      instance: {
        name: `swarm-ev-${runId}`,
        serverId: `swarm-ev-${runId}`,
        jsonSpec: { health_check: { interval: 2, timeout: 5 } },
      },
      secrets: { API_KEY: secretValue },
    });
    expect(created.status).toBe(200);
    const id = created.body.id as string;
    await waitFor(
      "the instance RUNNING",
      async () =>
        (await rest("GET", `/v1/instances/${id}`)).body.status === "INSTANCE_STATUS_RUNNING"
          ? true
          : undefined,
      90_000,
    );
    const [service] = await servicesOf(id);
    expect(service?.Spec?.Labels?.["berth.managed"]).toBe("swarm");

    // The Swarm objects hold no copy of the value...
    const task = await taskContainerOf(id);
    const inspected = [
      await docker.getService(service!.ID).inspect(),
      await task!.inspect(),
      ...(await Promise.all(
        (
          await docker.listSecrets({ filters: { label: [`berth.instance=${id}`] } })
        ).map((s) => docker.getSecret(s.ID).inspect()),
      )),
    ];
    expect(inspected).toHaveLength(3);
    for (const object of inspected) expect(JSON.stringify(object)).not.toContain(secretValue);

    // ...yet the server has it, and answers through the gateway.
    const mcp = await connectMcp(`${mesh.gateway.url}/mcp/swarm-ev-${runId}`, {
      authorization: `Bearer ${mesh.apiKey}`,
    });
    try {
      const echoed = await mcp.callTool({ name: "echo", arguments: { message: "via swarm" } });
      expect(echoed.content).toEqual([{ type: "text", text: "Echo: via swarm" }]);
      const env = await mcp.callTool({ name: "get-env", arguments: {} });
      expect(JSON.stringify(env.content)).toContain(secretValue);
    } finally {
      await mcp.close();
    }

    const deleted = await rest("DELETE", `/v1/instances/${id}`);
    expect(deleted.status).toBe(200);
    await waitFor(
      "the instance gone",
      async () => ((await rest("GET", `/v1/instances/${id}`)).status === 404 ? true : undefined),
      60_000,
    );
    expect(await whenAllGone(runId)).toEqual({
      containers: [],
      networks: [],
      services: [],
      secrets: [],
      configs: [],
    });
  }, 240_000);
});
