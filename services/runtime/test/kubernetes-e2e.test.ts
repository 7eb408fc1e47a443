/**
 * The Kubernetes driver against a real cluster: the one KUBECONFIG names. No cluster can run on
 * the machines CI uses, so without KUBECONFIG this suite does not run, and says so.
 *
 *   KUBECONFIG=~/.kube/config npx vitest run services/runtime/test/kubernetes-e2e.test.ts
 *
 * Optional: BERTH_K8S_E2E_NAMESPACE (an existing namespace, default "default"),
 * BERTH_K8S_E2E_STDIO_IMAGE (default berth/mcp-everything:stdio, built by
 * deploy/images/build-mcp-images.sh; the cluster's nodes must have it or pull it). Objects carry
 * a scope of their own and are removed afterwards. Only stdio servers are exercised: the test
 * runs outside the cluster, where a Service's cluster IP does not route.
 */
import { randomUUID } from "node:crypto";
import { createLogger } from "@berth/platform";
import { AppsV1Api, CoreV1Api, KubeConfig, NetworkingV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BridgeServer, createBridgeServer } from "../src/bridge/bridge-server.js";
import {
  createKubernetesDriver,
  type KubernetesDriver,
} from "../src/drivers/kubernetes/kubernetes-driver.js";
import { probeMcp } from "../src/health/mcp-probe.js";
import { parseSpec } from "../src/spec/parse-spec.js";
import type { DockerSpec } from "../src/spec/types.js";

const CLUSTER = process.env.KUBECONFIG;
if (!CLUSTER) {
  console.warn(
    "kubernetes-e2e: DID NOT RUN: KUBECONFIG is not set, so no cluster was tested (the driver's logic is tested against the in-process API in src/drivers/kubernetes)",
  );
}

const NAMESPACE = process.env.BERTH_K8S_E2E_NAMESPACE ?? "default";
const IMAGE = process.env.BERTH_K8S_E2E_STDIO_IMAGE ?? "berth/mcp-everything:stdio";
const SCOPE = `e2e-${randomUUID().slice(0, 8)}`;

describe.skipIf(!CLUSTER)(
  "the Kubernetes driver on the cluster KUBECONFIG names",
  { timeout: 300_000 },
  () => {
    let driver: KubernetesDriver;
    let bridge: BridgeServer;
    const config = new KubeConfig();

    beforeAll(async () => {
      config.loadFromDefault();
      driver = createKubernetesDriver({
        kubeConfig: config,
        namespace: NAMESPACE,
        labels: { scope: SCOPE, extra: {} },
        startTimeoutMs: 240_000,
      });
      bridge = createBridgeServer({
        host: "127.0.0.1",
        port: 0,
        logger: createLogger({ service: "kubernetes-e2e", level: "silent" }),
      });
      await bridge.listen();
    });

    afterAll(async () => {
      await driver?.collectGarbage(new Set()).catch(() => undefined);
      driver?.close();
      await bridge?.close();
    });

    /** Every object of this run's scope still on the cluster, by kind. */
    async function leftovers(): Promise<string[]> {
      const labelSelector = `berth.managed=true,berth.scope=${SCOPE}`;
      const query = { namespace: NAMESPACE, labelSelector };
      const apps = config.makeApiClient(AppsV1Api);
      const core = config.makeApiClient(CoreV1Api);
      const networking = config.makeApiClient(NetworkingV1Api);
      const names = (kind: string, items: { metadata?: { name?: string } }[]) =>
        items.map((item) => `${kind}/${item.metadata?.name}`);
      return [
        ...names("deployment", (await apps.listNamespacedDeployment(query)).items),
        ...names("secret", (await core.listNamespacedSecret(query)).items),
        ...names("service", (await core.listNamespacedService(query)).items),
        ...names("networkpolicy", (await networking.listNamespacedNetworkPolicy(query)).items),
        ...names("pod", (await core.listNamespacedPod(query)).items),
      ];
    }

    it("runs a stdio server with a secret, serves MCP through attach, adopts it, and removes it all", async () => {
      const parsed = parseSpec({ type: "docker", image: IMAGE, transport: "stdio" });
      if (!parsed.ok) throw new Error(parsed.message);
      const instanceId = randomUUID();
      const request = {
        instanceId,
        generation: 1,
        spec: parsed.spec as DockerSpec,
        secretEnv: { E2E_SECRET: `value-${SCOPE}` },
      };
      const handle = await driver.ensure(request);
      expect(handle.driver).toBe("kubernetes");
      const attachment = bridge.attach(instanceId, handle.stdio!);
      await attachment.ready;
      const probe = await probeMcp(bridge.url(instanceId), bridge.headers(), 30_000);
      expect(probe.ok, JSON.stringify(probe)).toBe(true);
      attachment.detach("adopting");

      // A restarted runtime adopts the same pod instead of replacing it.
      const again = await driver.ensure(request);
      expect(again).toMatchObject({ adopted: true, containerId: handle.containerId });
      again.stdio?.close();
      expect(await driver.inspect(instanceId)).toEqual([
        expect.objectContaining({ instanceId, generation: 1, running: true }),
      ]);

      await driver.remove(instanceId);
      expect(await leftovers()).toEqual([]);
    });
  },
);
