import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { kubernetesSecrets } from "../../../../../scripts/kubernetes-secrets.js";
import { schemaProblems, toWire } from "../../../test/support/kubernetes-schema.js";
import { MCP_CLIENT_LABEL } from "./kubernetes-driver.js";
import { DRIVER_PERMISSIONS } from "./kubernetes-permissions.js";

const DIR = fileURLToPath(new URL("../../../../../deploy/kubernetes/", import.meta.url));
// biome-ignore lint/suspicious/noExplicitAny: the tests read manifests as plain JSON.
type Json = Record<string, any>;

/** Every document of every manifest file, parsed as plain JSON (no field dropped or renamed). */
function manifests(): { file: string; doc: Json }[] {
  return readdirSync(DIR)
    .filter((file) => file.endsWith(".yaml") && file !== "kustomization.yaml")
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(DIR, file), "utf8")).map((d) => {
        expect(d.errors, file).toEqual([]);
        return { file, doc: d.toJSON() as Json };
      }),
    );
}

const find = (kind: string, name: string) =>
  manifests().find((m) => m.doc.kind === kind && m.doc.metadata.name === name)?.doc;

describe("deploy/kubernetes", () => {
  it("holds only objects that pass the Kubernetes schemas", () => {
    const all = manifests();
    expect(all.length).toBeGreaterThan(10);
    for (const { file, doc } of all) {
      expect(schemaProblems(doc), `${file}: ${doc.kind} ${doc.metadata?.name}`).toEqual([]);
    }
  });

  it("lists every manifest file in its kustomization", () => {
    const kustomization = parseAllDocuments(
      readFileSync(join(DIR, "kustomization.yaml"), "utf8"),
    )[0]!.toJSON() as Json;
    const files = readdirSync(DIR).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect([...kustomization.resources].sort()).toEqual(files.sort());
  });

  it("grants the runtime exactly the driver's permissions, in the workloads' namespace only", () => {
    const role = find("Role", "berth-runtime-driver")!;
    expect(role.metadata.namespace).toBe("berth-workloads");
    const granted = role.rules.flatMap((rule: Json) =>
      rule.apiGroups.flatMap((group: string) =>
        rule.resources.map((resource: string) => ({
          apiGroup: group,
          resource,
          verbs: [...rule.verbs].sort(),
        })),
      ),
    );
    const key = (p: { apiGroup: string; resource: string }) => `${p.apiGroup}/${p.resource}`;
    const sortedRules = (rules: { apiGroup: string; resource: string; verbs: string[] }[]) =>
      [...rules]
        .map((r) => ({ ...r, verbs: [...r.verbs].sort() }))
        .sort((a, b) => key(a).localeCompare(key(b)));
    expect(sortedRules(granted)).toEqual(sortedRules([...DRIVER_PERMISSIONS]));
    // Nothing cluster-wide: no ClusterRole or ClusterRoleBinding at all.
    expect(manifests().filter((m) => m.doc.kind.startsWith("Cluster"))).toEqual([]);
    const binding = find("RoleBinding", "berth-runtime-driver")!;
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: "berth-runtime", namespace: "berth" },
    ]);
  });

  it("runs every pod under the restricted profile, the token mounted in the runtime alone", () => {
    for (const namespace of ["berth", "berth-workloads"]) {
      expect(find("Namespace", namespace)!.metadata.labels).toMatchObject({
        "pod-security.kubernetes.io/enforce": "restricted",
      });
    }
    const workloads = manifests().filter((m) => ["Deployment", "StatefulSet"].includes(m.doc.kind));
    expect(workloads.map((w) => w.doc.metadata.name).sort()).toEqual(["berth", "nats", "postgres"]);
    for (const { doc } of workloads) {
      const pod = doc.spec.template.spec;
      expect(pod.securityContext, doc.metadata.name).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(pod.automountServiceAccountToken, doc.metadata.name).toBe(false);
      for (const container of pod.containers) {
        expect(container.securityContext, container.name).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        });
        expect(container.resources.limits, container.name).toBeDefined();
      }
    }
    const berth = find("Deployment", "berth")!.spec.template;
    expect(berth.metadata.labels[MCP_CLIENT_LABEL]).toBe("true");
    expect(berth.spec.serviceAccountName).toBe("berth-runtime");
    const tokenHolders = berth.spec.containers
      .filter((c: Json) =>
        c.volumeMounts.some(
          (m: Json) => m.mountPath === "/var/run/secrets/kubernetes.io/serviceaccount",
        ),
      )
      .map((c: Json) => c.name);
    expect(tokenHolders).toEqual(["runtime"]);
    const runtime = berth.spec.containers.find((c: Json) => c.name === "runtime");
    expect(runtime.env).toEqual(
      expect.arrayContaining([
        { name: "BERTH_RUNTIME_DOCKER_DRIVER", value: "kubernetes" },
        { name: "BERTH_KUBERNETES_NAMESPACE", value: "berth-workloads" },
      ]),
    );
    expect(berth.spec.containers.map((c: Json) => c.image)).toEqual([
      "berth/registry:0.1.0",
      "berth/instances:0.1.0",
      "berth/runtime:0.1.0",
      "berth/gateway:0.1.0",
    ]);
  });

  // Five RSA keys are generated (node-forge, as npm start does): slow on a busy machine.
  it("references only Secrets that scripts/kubernetes-secrets.ts makes, which pass the schemas", {
    timeout: 60_000,
  }, () => {
    const secrets = kubernetesSecrets();
    for (const s of secrets) expect(schemaProblems(toWire(s)), s.metadata?.name).toEqual([]);
    const made = new Set(secrets.map((s) => s.metadata!.name!));
    const referenced = new Set<string>();
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === "object") {
        const record = value as Json;
        if (record.secretRef?.name) referenced.add(record.secretRef.name);
        if (record.secret?.secretName) referenced.add(record.secret.secretName);
        if (record.secretKeyRef?.name) referenced.add(record.secretKeyRef.name);
        Object.values(record).forEach(walk);
      }
    };
    for (const { doc } of manifests()) walk(doc);
    expect([...referenced].sort()).toEqual([...made].sort());
    // Each service's Secret is its own: only the instances service holds the key ring.
    const holders = secrets
      .filter((s) => s.stringData?.BERTH_SECRET_KEYS)
      .map((s) => s.metadata!.name);
    expect(holders).toEqual(["berth-instances"]);
    const nats = secrets.find((s) => s.metadata!.name === "berth-nats")!.stringData!["nats.conf"]!;
    expect(nats).toContain('listen: "0.0.0.0:4222"');
    for (const service of ["registry", "instances", "runtime", "gateway"]) {
      expect(nats).toContain(`user: "${service}"`);
    }
  });
});
