/**
 * The credentials of Berth on Kubernetes, as Secret manifests on stdout, made fresh with the same
 * code npm start uses (mesh CA and certificates, NATS users and permissions, the secret key ring):
 *
 *   npx tsx scripts/kubernetes-secrets.ts | kubectl apply -f -
 *
 * Run it once per installation: a second run makes new values (a new key ring could no longer
 * decrypt the instance secrets already stored). Nothing is written to disk.
 * - berth-<service> (registry, instances, runtime, gateway): that service's DATABASE_URL,
 *   NATS_URL, NATS_USER, NATS_PASSWORD and mesh identity (PEM text), read with envFrom; the key ring
 *   BERTH_SECRET_KEYS only in berth-instances, BERTH_OAUTH_KEY_ENCRYPTION_KEYS only in berth-gateway;
 * - berth-postgres: the password Postgres is initialised with;
 * - berth-nats: nats-server's configuration, with one user per service.
 */
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { createMeshAuthority, meshIdentityEnv } from "@berth/platform/mesh-pki";
import { dumpYaml, type V1Secret } from "@kubernetes/client-node";
import { berthNatsUsers, natsServerConfig } from "../packages/testkit/src/nats-users.js";
import { MESH_SERVICES, type MeshService } from "./start/credentials.js";

const NAMESPACE = "berth";
const secret = () => randomBytes(32).toString("base64url");

function secretManifest(name: string, stringData: Record<string, string>): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: NAMESPACE, labels: { "app.kubernetes.io/part-of": "berth" } },
    type: "Opaque",
    stringData,
  };
}

/** The Secrets of one installation, with new values. */
export function kubernetesSecrets(): V1Secret[] {
  const authority = createMeshAuthority();
  const pgPassword = secret();
  const natsPasswords = Object.fromEntries(MESH_SERVICES.map((s) => [s, secret()])) as Record<
    MeshService,
    string
  >;
  const secretKeys = `k1:${randomBytes(32).toString("base64")}`;
  const oauthKeys = `k1:${randomBytes(32).toString("base64")}`;
  const databaseUrl = `postgres://postgres:${encodeURIComponent(pgPassword)}@postgres:5432/berth`;
  const services = MESH_SERVICES.map((service) =>
    secretManifest(`berth-${service}`, {
      DATABASE_URL: databaseUrl,
      NATS_URL: "nats://nats:4222",
      NATS_USER: service,
      NATS_PASSWORD: natsPasswords[service],
      ...meshIdentityEnv(authority.identity(service)),
      ...(service === "instances" ? { BERTH_SECRET_KEYS: secretKeys } : {}),
      ...(service === "gateway" ? { BERTH_OAUTH_KEY_ENCRYPTION_KEYS: oauthKeys } : {}),
    }),
  );
  const loopback = natsServerConfig({
    port: 4222,
    storeDir: "/data",
    users: berthNatsUsers(natsPasswords),
  });
  // Reached from Berth's pod, not over loopback as on one machine.
  const nats = loopback.replace('listen: "127.0.0.1:4222"', 'listen: "0.0.0.0:4222"');
  if (nats === loopback) throw new Error("nats.conf no longer has the expected listen line");
  return [
    ...services,
    secretManifest("berth-postgres", { password: `${pgPassword}\n` }),
    secretManifest("berth-nats", { "nats.conf": nats }),
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.stdout.write(
    kubernetesSecrets()
      .map((s) => dumpYaml(s))
      .join("---\n"),
  );
}
