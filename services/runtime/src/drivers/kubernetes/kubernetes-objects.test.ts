import type { V1Deployment } from "@kubernetes/client-node";

// biome-ignore lint/suspicious/noExplicitAny: the tests read nested wire JSON.
type Json = Record<string, any>;

import { describe, expect, it } from "vitest";
import { schemaProblems, toWire } from "../../../test/support/kubernetes-schema.js";
import { parseSpec } from "../../spec/parse-spec.js";
import type { DockerSpec } from "../../spec/types.js";
import { PermanentStartError, type WorkloadRequest } from "../types.js";
import {
  deploymentFor,
  networkPolicyFor,
  type ObjectContext,
  objectName,
  ownerReference,
  podUser,
  secretFor,
  serviceFor,
} from "./kubernetes-objects.js";

const ID = "0b6f2b8e-4c1d-4e8a-9a51-2f7d3c9e1a44";
const context: ObjectContext = {
  namespace: "berth-workloads",
  labels: { scope: "db-0123456789ab", extra: { "berth.test": "objects" } },
  clients: { namespace: "berth", labels: { "berth.mcp-client": "true" } },
};

const spec = (json: Record<string, unknown>) => {
  const parsed = parseSpec({ type: "docker", image: "berth/mcp-everything:http", ...json });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.spec as DockerSpec;
};
const request = (
  json: Record<string, unknown>,
  secretEnv: Record<string, string> = {},
): WorkloadRequest<DockerSpec> => ({ instanceId: ID, generation: 3, spec: spec(json), secretEnv });

const deployment = (r: WorkloadRequest<DockerSpec>) =>
  deploymentFor(r, context, { replicas: 1, startedAt: "2026-11-27T19:00:00.000Z" });
const owner = ownerReference({
  metadata: { name: objectName(ID), uid: "5d1c9f57-1f7c-4f38-9c39-6a1d7d0b7b11" },
} as V1Deployment);

/** The object as client-node sends it, and what the schemas say about it. */
const validated = (object: { apiVersion?: string; kind?: string }) => {
  const wire = toWire(object) as Json;
  expect(schemaProblems(wire), `${object.kind} must pass the Kubernetes schemas`).toEqual([]);
  return wire;
};

describe("the Deployment of an instance", () => {
  const http = request(
    {
      transport: "streamable_http",
      port: 3001,
      args: ["streamableHttp"],
      environment: { LOG_LEVEL: "info" },
      resources: { memory_limit: "256m", cpu_limit: "0.5" },
    },
    { API_KEY: "s3cret-value" },
  );

  it("passes the schemas and runs one pod under the restricted Pod Security profile", () => {
    const wire = validated(deployment(http));
    expect(wire.metadata).toMatchObject({ name: `berth-${ID}`, namespace: "berth-workloads" });
    expect(wire.spec).toMatchObject({ replicas: 1, strategy: { type: "Recreate" } });
    const pod = wire.spec.template.spec;
    expect(pod).toMatchObject({
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
    });
    expect(pod.containers).toHaveLength(1);
    expect(pod.containers[0].securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65534,
      runAsGroup: 65534,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    // The read-only root keeps a writable /tmp in memory, counted in the memory limit.
    expect(pod.volumes).toEqual([
      { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
    ]);
  });

  it("maps json_spec resources to equal requests and limits", () => {
    const container = validated(deployment(http)).spec.template.spec.containers[0];
    expect(container.resources).toEqual({
      limits: { memory: String(256 * 1024 * 1024), cpu: "500m" },
      requests: { memory: String(256 * 1024 * 1024), cpu: "500m" },
    });
    const defaults = validated(deployment(request({ transport: "stdio" }))).spec.template.spec
      .containers[0].resources;
    expect(defaults.limits).toEqual({ memory: String(512 * 1024 * 1024), cpu: "1000m" });
  });

  it("gives secrets to the container only by secretKeyRef: no value in the Deployment", () => {
    const wire = validated(deployment(http));
    expect(wire.spec.template.spec.containers[0].env).toEqual([
      { name: "LOG_LEVEL", value: "info" },
      {
        name: "API_KEY",
        valueFrom: { secretKeyRef: { name: `berth-${ID}`, key: "API_KEY", optional: false } },
      },
    ]);
    expect(JSON.stringify(wire)).not.toContain("s3cret-value");
  });

  it("labels the objects and the pod by scope, instance and generation", () => {
    const wire = validated(deployment(http));
    const labels = {
      "berth.managed": "true",
      "berth.scope": "db-0123456789ab",
      "berth.instance": ID,
      "berth.generation": "3",
      "berth.test": "objects",
      "app.kubernetes.io/managed-by": "berth",
    };
    expect(wire.metadata.labels).toEqual(labels);
    expect(wire.spec.template.metadata.labels).toEqual(labels);
    // The selector is immutable: it leaves the generation out so a new one updates in place.
    expect(wire.spec.selector.matchLabels).toEqual({
      "berth.managed": "true",
      "berth.scope": "db-0123456789ab",
      "berth.instance": ID,
    });
  });

  it("serves an http server on its named port and keeps a stdio server's stdin open", () => {
    const httpContainer = validated(deployment(http)).spec.template.spec.containers[0];
    expect(httpContainer.ports).toEqual([{ name: "mcp", containerPort: 3001, protocol: "TCP" }]);
    expect(httpContainer.stdin).toBe(false);
    const stdio = validated(
      deployment(request({ transport: "stdio", command: ["node", "server.js"], args: ["stdio"] })),
    ).spec.template.spec.containers[0];
    expect(stdio).toMatchObject({
      stdin: true,
      stdinOnce: false,
      tty: false,
      command: ["node", "server.js"],
      args: ["stdio"],
    });
    expect(stdio.ports).toBeUndefined();
  });

  it("runs as json_spec's numeric user and refuses names and root", () => {
    expect(podUser("1000:2000")).toEqual({ uid: 1000, gid: 2000 });
    expect(podUser("1000")).toEqual({ uid: 1000, gid: 1000 });
    expect(() => podUser("node")).toThrow(PermanentStartError);
    expect(() => podUser("node")).toThrow(/json_spec.user must be a numeric uid/);
    expect(() => podUser("0:0")).toThrow(/must not be root/);
    const wire = validated(deployment(request({ transport: "stdio", user: "1000:2000" })));
    expect(wire.spec.template.spec.containers[0].securityContext).toMatchObject({
      runAsUser: 1000,
      runAsGroup: 2000,
    });
  });

  it("needs json_spec.port for an http server (an image's ports cannot be read)", () => {
    expect(() => deployment(request({ transport: "streamable_http" }))).toThrow(
      /json_spec.port is required/,
    );
  });
});

describe("the objects around the Deployment", () => {
  const http = request({ transport: "streamable_http", port: 3001 }, { API_KEY: "s3cret" });

  it("keeps secret values in an owned Secret", () => {
    const wire = validated(secretFor(http, context, owner));
    expect(wire).toMatchObject({ type: "Opaque", metadata: { name: `berth-${ID}` } });
    expect(Buffer.from(wire.data.API_KEY, "base64").toString()).toBe("s3cret");
    expect(wire.metadata.ownerReferences).toEqual([
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: `berth-${ID}`,
        uid: "5d1c9f57-1f7c-4f38-9c39-6a1d7d0b7b11",
        blockOwnerDeletion: false,
      },
    ]);
  });

  it("reaches an http server through an owned ClusterIP Service", () => {
    const wire = validated(serviceFor(http, context, owner));
    expect(wire.spec).toEqual({
      type: "ClusterIP",
      selector: { "berth.managed": "true", "berth.scope": "db-0123456789ab", "berth.instance": ID },
      ports: [{ name: "mcp", port: 3001, targetPort: "mcp", protocol: "TCP" }],
    });
  });

  it("denies a stdio server every connection in and out", () => {
    const wire = validated(networkPolicyFor(request({ transport: "stdio" }), context, owner));
    expect(wire.spec).toEqual({
      podSelector: {
        matchLabels: {
          "berth.managed": "true",
          "berth.scope": "db-0123456789ab",
          "berth.instance": ID,
        },
      },
      policyTypes: ["Ingress", "Egress"],
      ingress: [],
      egress: [],
    });
  });

  it("lets only Berth's pods reach an http server's port, and nothing out without egress", () => {
    const wire = validated(networkPolicyFor(http, context, owner));
    expect(wire.spec.ingress).toEqual([
      {
        from: [
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "berth" } },
            podSelector: { matchLabels: { "berth.mcp-client": "true" } },
          },
        ],
        ports: [{ protocol: "TCP", port: 3001 }],
      },
    ]);
    expect(wire.spec.egress).toEqual([]);
  });

  it("opens DNS and the internet, not link-local metadata, when network_egress is granted", () => {
    const egress = request({ transport: "streamable_http", port: 3001, network_egress: true });
    const wire = validated(networkPolicyFor(egress, context, owner));
    expect(wire.spec.egress).toEqual([
      {
        ports: [
          { protocol: "UDP", port: 53 },
          { protocol: "TCP", port: 53 },
        ],
      },
      {
        to: [
          { ipBlock: { cidr: "0.0.0.0/0", except: ["169.254.0.0/16"] } },
          { ipBlock: { cidr: "::/0", except: ["fe80::/10"] } },
        ],
      },
    ]);
    // A stdio server has no network to grant, whatever the flag says.
    const stdio = request({ transport: "stdio", network_egress: true });
    expect(validated(networkPolicyFor(stdio, context, owner)).spec.egress).toEqual([]);
  });
});

describe("the schema check itself", () => {
  it("reports a misspelt field, a bad quantity and a missing selector", () => {
    const wire = toWire(deployment(request({ transport: "stdio" })) as V1Deployment) as Json;
    const container = wire.spec.template.spec.containers[0];
    container.securityContext.readOnlyRootFileSystem = true;
    container.resources.limits.memory = "lots";
    delete wire.spec.selector;
    const problems = schemaProblems(wire);
    expect(problems).toContain(
      "/spec/template/spec/containers/0/securityContext/readOnlyRootFileSystem is not a field of V1SecurityContext",
    );
    expect(problems.join("\n")).toMatch(/resources\/limits\/memory must match format "quantity"/);
    expect(problems.join("\n")).toMatch(/spec must have required property selector/);
  });
});
