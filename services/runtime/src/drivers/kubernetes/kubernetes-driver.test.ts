import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { createLogger } from "@berth/platform";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FakeKubeApi, startFakeKubeApi } from "../../../test/support/fake-kube-api.js";
import { schemaProblems } from "../../../test/support/kubernetes-schema.js";
import { type BridgeServer, createBridgeServer } from "../../bridge/bridge-server.js";
import { probeMcp } from "../../health/mcp-probe.js";
import { parseSpec } from "../../spec/parse-spec.js";
import type { DockerSpec } from "../../spec/types.js";
import {
  EngineUnavailableError,
  PermanentStartError,
  type WorkloadHandle,
  type WorkloadRequest,
  WorkloadStartError,
} from "../types.js";
import { createKubernetesDriver, type KubernetesDriver } from "./kubernetes-driver.js";
import { DRIVER_PERMISSIONS, permissionsOf } from "./kubernetes-permissions.js";

const NAMESPACE = "berth-workloads";
const STDIO_IMAGE = "berth/mcp-everything:stdio";
const EVERYTHING = createRequire(import.meta.url).resolve(
  "@modelcontextprotocol/server-everything/dist/index.js",
);

let api: FakeKubeApi;
let bridge: BridgeServer;
const drivers: KubernetesDriver[] = [];
const handles: WorkloadHandle[] = [];

beforeAll(async () => {
  api = await startFakeKubeApi({
    // The stdio image is played by the real server-everything process, attached over WebSocket.
    programs: { [STDIO_IMAGE]: { command: process.execPath, args: [EVERYTHING, "stdio"] } },
    behaviour: (image) => {
      if (image.startsWith("missing/")) return "image-missing";
      if (image.startsWith("crashing/")) return "crash-loop";
      if (image.startsWith("huge/")) return "unschedulable";
      return "run";
    },
  });
  bridge = createBridgeServer({
    host: "127.0.0.1",
    port: 0,
    logger: createLogger({ service: "test", level: "silent" }),
  });
  await bridge.listen();
});

afterEach(() => {
  for (const handle of handles.splice(0)) handle.stdio?.close();
  for (const driver of drivers.splice(0)) driver.close();
});

afterAll(async () => {
  await bridge?.close();
  await api?.close();
});

function newDriver(overrides: { startTimeoutMs?: number } = {}): KubernetesDriver {
  const driver = createKubernetesDriver({
    kubeConfig: api.kubeConfig(),
    namespace: NAMESPACE,
    labels: { scope: "kube-test", extra: {} },
    clients: { namespace: "berth", labels: { "berth.mcp-client": "true" } },
    pollMs: 25,
    startTimeoutMs: overrides.startTimeoutMs ?? 10_000,
    removeTimeoutMs: 5_000,
  });
  drivers.push(driver);
  return driver;
}

function request(
  json: Record<string, unknown>,
  options: { instanceId?: string; generation?: number; secretEnv?: Record<string, string> } = {},
): WorkloadRequest<DockerSpec> {
  const parsed = parseSpec({ type: "docker", image: STDIO_IMAGE, transport: "stdio", ...json });
  if (!parsed.ok) throw new Error(parsed.message);
  return {
    instanceId: options.instanceId ?? randomUUID(),
    generation: options.generation ?? 1,
    spec: parsed.spec as DockerSpec,
    secretEnv: options.secretEnv ?? {},
  };
}

async function ensure(driver: KubernetesDriver, r: WorkloadRequest<DockerSpec>) {
  const handle = await driver.ensure(r);
  handles.push(handle);
  return handle;
}

/** The writes made since a point in the request record, as "METHOD resource[/name]". */
function writesSince(mark: number): string[] {
  return api.requests
    .slice(mark)
    .filter((r) => r.method !== "GET")
    .map((r) => `${r.method} ${r.path.split("/namespaces/")[1]?.split("/").slice(1).join("/")}`);
}

const named = (resource: string, instanceId: string) =>
  api.objects(resource).find((o) => o.metadata.name === `berth-${instanceId}`);
const podsOf = (instanceId: string) =>
  api.objects("pods").filter((p) => p.metadata.labels["berth.instance"] === instanceId);

/** An MCP client on the runtime's bridge for an attached stdio workload. */
async function bridgedClient(instanceId: string, handle: WorkloadHandle) {
  const attachment = bridge.attach(instanceId, handle.stdio!);
  await attachment.ready;
  const client = new Client({ name: "kube-driver-test", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(bridge.url(instanceId)), {
      requestInit: { headers: bridge.headers() },
    }),
  );
  return { client, attachment };
}

// Real processes (server-everything) start and answer MCP here: generous on a busy 2-core machine.
describe("the Kubernetes driver on an in-process API server", { timeout: 60_000 }, () => {
  it("starts a stdio server: policy and Secret before the pod, then MCP through the attach API", async () => {
    const driver = newDriver();
    const mark = api.requests.length;
    const r = request(
      { environment: { PLAIN: "visible" } },
      { secretEnv: { API_KEY: "k8s-s3cret" } },
    );
    const handle = await ensure(driver, r);
    const name = `berth-${r.instanceId}`;
    // The Deployment is made without a replica, its owned NetworkPolicy and Secret next, and only
    // then does it get its replica: no pod runs before its policy and its secret exist.
    expect(writesSince(mark)).toEqual([
      "POST deployments",
      "POST networkpolicies",
      "POST secrets",
      `DELETE services/${name}`,
      `PUT deployments/${name}`,
    ]);
    const deployment = named("deployments", r.instanceId)!;
    for (const resource of ["networkpolicies", "secrets"]) {
      expect(named(resource, r.instanceId)!.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: "Deployment", name, uid: deployment.metadata.uid }),
      ]);
    }
    expect(JSON.stringify(deployment)).not.toContain("k8s-s3cret");
    expect(handle).toMatchObject({ driver: "kubernetes", endpoint: "", adopted: false });
    expect(handle.containerId).toBe(podsOf(r.instanceId)[0]!.metadata.name);

    // The runtime's bridge serves the attached server; the secret reached it by secretKeyRef.
    const { client, attachment } = await bridgedClient(r.instanceId, handle);
    const probe = await probeMcp(bridge.url(r.instanceId), bridge.headers(), 10_000);
    expect(probe.ok && probe.tools?.map((t) => t.name)).toEqual(
      expect.arrayContaining(["echo", "get-env"]),
    );
    const echoed = await client.callTool({ name: "echo", arguments: { message: "over attach" } });
    expect(JSON.stringify(echoed.content)).toContain("over attach");
    const env = await client.callTool({ name: "get-env", arguments: {} });
    expect(JSON.stringify(env.content)).toContain("k8s-s3cret");
    expect(JSON.stringify(env.content)).toContain("visible");
    await client.close();
    attachment.detach("test over");
  });

  it("adopts the running pod of the same generation without writing anything", async () => {
    const r = request({});
    const first = await ensure(newDriver(), r);
    first.stdio!.close();
    // A restarted runtime: a new driver, the same generation.
    const mark = api.requests.length;
    const again = await ensure(newDriver(), r);
    expect(writesSince(mark)).toEqual([]);
    expect(again).toMatchObject({ adopted: true, containerId: first.containerId });
    const { client, attachment } = await bridgedClient(r.instanceId, again);
    const tools = await client.listTools();
    expect(tools.tools.length).toBeGreaterThan(0);
    await client.close();
    attachment.detach("test over");
  });

  it("rolls out a new generation in place: the Deployment and Secret replaced, a new pod", async () => {
    const driver = newDriver();
    const instanceId = randomUUID();
    const first = await ensure(driver, request({}, { instanceId, secretEnv: { TOKEN: "one" } }));
    const mark = api.requests.length;
    const second = await ensure(
      driver,
      request({}, { instanceId, generation: 2, secretEnv: { TOKEN: "two" } }),
    );
    const name = `berth-${instanceId}`;
    // Owned objects of an existing Deployment are replaced, not created again.
    expect(writesSince(mark)).toEqual([
      `PUT networkpolicies/${name}`,
      `PUT secrets/${name}`,
      `DELETE services/${name}`,
      `PUT deployments/${name}`,
    ]);
    expect(writesSince(mark).some((w) => w.startsWith("POST deployments"))).toBe(false);
    expect(second.containerId).not.toBe(first.containerId);
    expect(podsOf(instanceId).map((p) => p.metadata.labels["berth.generation"])).toEqual(["2"]);
    const secret = named("secrets", instanceId)!;
    expect(Buffer.from(secret.data.TOKEN, "base64").toString()).toBe("two");
    expect(secret.metadata.labels["berth.generation"]).toBe("2");
  });

  it("reports a crash with its exit code, and adopts the kubelet's restart on the next ensure", async () => {
    const driver = newDriver();
    const r = request({});
    const handle = await ensure(driver, r);
    api.crash(handle.containerId!, 2);
    await expect(handle.exited).resolves.toBe("container exited with code 2");
    const mark = api.requests.length;
    const again = await ensure(driver, r);
    expect(writesSince(mark)).toEqual([]);
    expect(again).toMatchObject({ adopted: true, containerId: handle.containerId });
    // The restart is the baseline now: only a further crash ends the new handle.
    api.crash(handle.containerId!, 137);
    await expect(again.exited).resolves.toBe("container exited with code 137");
  });

  it("reports a pod that is deleted under it as gone", async () => {
    const driver = newDriver();
    const r = request({});
    const handle = await ensure(driver, r);
    // Someone deletes the Deployment (kubectl delete): its pod goes with it.
    api.delete("deployments", NAMESPACE, `berth-${r.instanceId}`);
    await expect(handle.exited).resolves.toBe("pod is gone");
  });

  it("fails for good on an image the cluster cannot pull, and leaves no replica", async () => {
    const driver = newDriver();
    const r = request({ image: "missing/server:1" });
    const mark = api.requests.length;
    const failure = await driver.ensure(r).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PermanentStartError);
    expect((failure as Error).message).toMatch(
      /image missing\/server:1 cannot be pulled by the cluster \(ErrImagePull: pull access denied/,
    );
    const patch = api.requests.slice(mark).find((q) => q.method === "PATCH");
    expect(patch).toMatchObject({
      contentType: "application/merge-patch+json",
      body: { spec: { replicas: 0 } },
    });
    expect(named("deployments", r.instanceId)!.spec.replicas).toBe(0);
  });

  it("fails a crash-looping start with a reason a restart may fix", async () => {
    const failure = await newDriver()
      .ensure(request({ image: "crashing/server:1" }))
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkloadStartError);
    expect((failure as Error).message).toBe("CrashLoopBackOff: container exited with code 3");
  });

  it("gives up on a pod that is never scheduled, with the scheduler's reason", async () => {
    const failure = await newDriver({ startTimeoutMs: 300 })
      .ensure(request({ image: "huge/server:1" }))
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkloadStartError);
    expect((failure as Error).message).toMatch(
      /did not run within 0 s: not scheduled: 0\/1 nodes are available: 1 Insufficient memory/,
    );
  });

  it("reaches an http server through an owned Service at its cluster IP", async () => {
    const driver = newDriver();
    const r = request({
      image: "berth/mcp-everything:http",
      transport: "streamable_http",
      port: 3001,
      network_egress: true,
    });
    const handle = await ensure(driver, r);
    const deployment = named("deployments", r.instanceId)!;
    const service = named("services", r.instanceId)!;
    // An address literal: the probe and the gateway dial it without the guarded lookup, which
    // would refuse the Service's DNS name for resolving to a private address.
    expect(service.spec.clusterIP).toMatch(/^10\.96\.0\.\d+$/);
    expect(handle.endpoint).toBe(`http://${service.spec.clusterIP}:3001/mcp`);
    expect(service.metadata.ownerReferences[0].uid).toBe(deployment.metadata.uid);
    expect(service.spec.ports).toEqual([
      { name: "mcp", port: 3001, targetPort: "mcp", protocol: "TCP" },
    ]);
    const policy = named("networkpolicies", r.instanceId)!;
    expect(policy.spec.ingress[0].ports).toEqual([{ protocol: "TCP", port: 3001 }]);
    expect(policy.spec.egress).toHaveLength(2);
    // A new generation keeps the Service's cluster IP (immutable on the API server).
    const clusterIP = service.spec.clusterIP;
    const next = await ensure(driver, { ...r, generation: 2 });
    expect(named("services", r.instanceId)!.spec.clusterIP).toBe(clusterIP);
    expect(next.endpoint).toBe(handle.endpoint);
  });

  it("removes the Deployment and its dependents and waits until the pod is gone", async () => {
    const driver = newDriver();
    const r = request(
      { transport: "streamable_http", port: 3001, image: "x/http:1" },
      {
        secretEnv: { KEY: "v" },
      },
    );
    await ensure(driver, r);
    expect(await driver.inspect(r.instanceId)).toEqual([
      {
        instanceId: r.instanceId,
        generation: 1,
        containerId: `berth-${r.instanceId}`,
        running: true,
      },
    ]);
    const mark = api.requests.length;
    await driver.remove(r.instanceId);
    const name = `berth-${r.instanceId}`;
    expect(writesSince(mark)).toEqual([
      `DELETE deployments/${name}`,
      `DELETE networkpolicies/${name}`,
      `DELETE secrets/${name}`,
      `DELETE services/${name}`,
    ]);
    for (const resource of ["deployments", "networkpolicies", "secrets", "services"]) {
      expect(named(resource, r.instanceId), resource).toBeUndefined();
    }
    expect(podsOf(r.instanceId)).toEqual([]);
    expect(await driver.inspect(r.instanceId)).toEqual([]);
    await driver.remove(r.instanceId); // safe to repeat
  });

  it("collects the objects of unknown instances only, orphans without an owner included", async () => {
    const driver = newDriver();
    const kept = request({});
    const dropped = request({}, { secretEnv: { K: "v" } });
    await ensure(driver, kept);
    await ensure(driver, dropped);
    const orphan = randomUUID();
    api.put("secrets", {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: `berth-${orphan}`,
        namespace: NAMESPACE,
        labels: { "berth.managed": "true", "berth.scope": "kube-test", "berth.instance": orphan },
      },
      data: {},
    });
    // Another runtime's scope is not touched.
    const foreign = randomUUID();
    api.put("secrets", {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: `berth-${foreign}`,
        namespace: NAMESPACE,
        labels: { "berth.managed": "true", "berth.scope": "other", "berth.instance": foreign },
      },
    });
    const live = new Set(
      api
        .objects("deployments")
        .map((d) => d.metadata.labels["berth.instance"] as string)
        .filter((id) => id !== dropped.instanceId),
    );
    const removed = await driver.collectGarbage(live);
    expect(removed).toBe(2); // dropped's Deployment (its dependents follow it) and the orphan
    expect(named("deployments", dropped.instanceId)).toBeUndefined();
    expect(named("secrets", dropped.instanceId)).toBeUndefined();
    expect(named("secrets", orphan)).toBeUndefined();
    expect(named("secrets", foreign)).toBeDefined();
    expect(named("deployments", kept.instanceId)).toBeDefined();
    expect((await driver.list()).map((w) => w.instanceId)).toContain(kept.instanceId);
  });

  it("reads the pod's log lines with their timestamps", async () => {
    const driver = newDriver();
    const r = request({});
    const handle = await ensure(driver, r);
    api.setLog(handle.containerId!, [
      "2026-11-27T19:00:00.000000001Z first",
      "2026-11-27T19:00:01.000000001Z second",
      "2026-11-27T19:00:02.000000001Z third",
    ]);
    const lines = [];
    for await (const line of driver.logs(r.instanceId, {
      follow: false,
      tailLines: 2,
      signal: new AbortController().signal,
    })) {
      lines.push(line);
    }
    expect(lines.map((l) => [l.line, l.stream, l.time?.toISOString()])).toEqual([
      ["second", "stdout", "2026-11-27T19:00:01.000Z"],
      ["third", "stdout", "2026-11-27T19:00:02.000Z"],
    ]);
  });

  it("follows the pod's log until the caller stops", async () => {
    const driver = newDriver();
    const r = request({});
    const handle = await ensure(driver, r);
    api.setLog(handle.containerId!, [
      "2026-11-27T19:00:00.000000001Z one",
      "2026-11-27T19:00:01.000000001Z two",
    ]);
    const stop = new AbortController();
    const lines: string[] = [];
    for await (const line of driver.logs(r.instanceId, {
      follow: true,
      tailLines: 10,
      signal: stop.signal,
    })) {
      lines.push(line.line);
      if (lines.length === 2) stop.abort(); // the stream stays open: only the abort ends it
    }
    expect(lines).toEqual(["one", "two"]);
    const follow = api.requests.filter((q) => q.path.endsWith("/log")).at(-1);
    expect(follow?.query).toMatchObject({ follow: "true", timestamps: "true", tailLines: "10" });
  });

  it("says the engine is unavailable when the API server does not answer", async () => {
    const driver = newDriver();
    api.setReachable(false);
    try {
      await expect(driver.ensure(request({}))).rejects.toBeInstanceOf(EngineUnavailableError);
      await expect(driver.list()).rejects.toBeInstanceOf(EngineUnavailableError);
    } finally {
      api.setReachable(true);
    }
  });

  it("sent only objects that pass the Kubernetes schemas", () => {
    const written = api.requests.filter((r) => r.method === "POST" || r.method === "PUT");
    expect(written.length).toBeGreaterThan(10);
    for (const r of written) expect(schemaProblems(r.body), `${r.method} ${r.path}`).toEqual([]);
  });

  it("used exactly the permissions its Role grants", () => {
    const used = new Map<string, Set<string>>();
    for (const r of api.requests) {
      for (const p of permissionsOf(r)) {
        const key = `${p.apiGroup}/${p.resource}`;
        used.set(key, (used.get(key) ?? new Set()).add(p.verb));
      }
    }
    const granted = new Map(
      DRIVER_PERMISSIONS.map((p) => [`${p.apiGroup}/${p.resource}`, new Set(p.verbs)]),
    );
    const sorted = (m: Map<string, Set<string>>) =>
      Object.fromEntries([...m].map(([k, v]) => [k, [...v].sort()]).sort());
    // Run with the whole file: every lifecycle above contributes its requests.
    expect(sorted(used)).toEqual(sorted(granted));
  });
});
