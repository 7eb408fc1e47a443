import { randomBytes, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createMeshAuthority, type MeshCa } from "@berth/platform/mesh-pki";

/** The services that get a mesh certificate and a NATS user of their own. */
export const MESH_SERVICES = ["registry", "instances", "runtime", "gateway"] as const;
export type MeshService = (typeof MESH_SERVICES)[number];

/** Where one service's mesh identity is kept (files: the services read them by path). */
export interface MeshIdentityFiles {
  BERTH_MESH_CA: string;
  BERTH_MESH_CERT: string;
  BERTH_MESH_KEY: string;
}

/** The mesh's own credentials, kept under .berth/ (mode 0600) and made on the first start. */
export interface MeshCredentials {
  /** The key ring that encrypts instance secrets (the instances service's only). */
  BERTH_SECRET_KEYS: string;
  /** The key ring that seals the embedded OAuth server's signing keys (the gateway's only). */
  BERTH_OAUTH_KEY_ENCRYPTION_KEYS: string;
  /** The password of the embedded Postgres's `postgres` user. */
  pgPassword: string;
  /** Each service's NATS password (the NATS user is the service's name). */
  natsPasswords: Record<MeshService, string>;
  /** Each service's certificate, key and the mesh CA, as files. */
  identities: Record<MeshService, MeshIdentityFiles>;
}

const secret = () => randomBytes(32).toString("base64url");

/** What credentials.env must hold, with how to make each value the first time. */
const VARIABLES: Record<string, () => string> = {
  BERTH_SECRET_KEYS: () => `k1:${randomBytes(32).toString("base64")}`,
  BERTH_OAUTH_KEY_ENCRYPTION_KEYS: () => `k1:${randomBytes(32).toString("base64")}`,
  BERTH_PG_PASSWORD: secret,
  ...Object.fromEntries(
    MESH_SERVICES.map((service) => [`BERTH_NATS_PASSWORD_${service.toUpperCase()}`, secret]),
  ),
};

/** Certificates are reissued this long before they expire (npm start runs for days at most). */
const RENEW_BEFORE_MS = 30 * 86_400_000;

/**
 * Reads the credentials kept in `file` (mode 0600), adding any that are missing (a file from an
 * older version gains the new ones and keeps the rest, so a restart can still decrypt the secrets
 * it stored), and the mesh CA and certificates in `meshDir`. BERTH_SECRET_KEYS from the shell wins.
 */
export function loadOrCreateCredentials(file: string, meshDir: string): MeshCredentials {
  mkdirSync(dirname(file), { recursive: true });
  const kept = existsSync(file) ? parseEnvFile(readFileSync(file, "utf8")) : {};
  const missing = Object.keys(VARIABLES).filter((name) => !kept[name]);
  if (missing.length > 0) {
    for (const name of missing) kept[name] = VARIABLES[name]!();
    const lines = Object.entries(kept).map(([name, value]) => `${name}=${value}`);
    writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  }
  chmodSync(file, 0o600);
  return {
    BERTH_SECRET_KEYS: process.env.BERTH_SECRET_KEYS || kept.BERTH_SECRET_KEYS || "",
    BERTH_OAUTH_KEY_ENCRYPTION_KEYS:
      process.env.BERTH_OAUTH_KEY_ENCRYPTION_KEYS || kept.BERTH_OAUTH_KEY_ENCRYPTION_KEYS || "",
    pgPassword: kept.BERTH_PG_PASSWORD!,
    natsPasswords: Object.fromEntries(
      MESH_SERVICES.map((s) => [s, kept[`BERTH_NATS_PASSWORD_${s.toUpperCase()}`]!]),
    ) as Record<MeshService, string>,
    identities: ensureMeshIdentities(meshDir),
  };
}

/** name=value lines (values may hold '='). */
function parseEnvFile(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
}

/** Whether a certificate file is missing or expires within RENEW_BEFORE_MS. */
function needsIssuing(certFile: string): boolean {
  if (!existsSync(certFile)) return true;
  try {
    const validTo = Date.parse(new X509Certificate(readFileSync(certFile)).validTo);
    return validTo - Date.now() < RENEW_BEFORE_MS;
  } catch {
    return true;
  }
}

/**
 * The mesh CA (made on first start; its key stays in meshDir, 0600) and one certificate per
 * service, issued when missing or close to expiry. Deleting meshDir rotates everything.
 */
function ensureMeshIdentities(meshDir: string): Record<MeshService, MeshIdentityFiles> {
  mkdirSync(meshDir, { recursive: true, mode: 0o700 });
  chmodSync(meshDir, 0o700);
  const caCert = join(meshDir, "ca.crt");
  const caKey = join(meshDir, "ca.key");
  let ca: MeshCa;
  if (needsIssuing(caCert) || !existsSync(caKey)) {
    ca = createMeshAuthority().ca;
    writeFileSync(caKey, ca.key, { mode: 0o600 });
    writeFileSync(caCert, ca.cert, { mode: 0o644 });
    // Certificates of an older CA would no longer be trusted: issue them all again.
    for (const service of MESH_SERVICES) writeFileSync(join(meshDir, `${service}.crt`), "");
  } else {
    ca = { cert: readFileSync(caCert, "utf8"), key: readFileSync(caKey, "utf8") };
  }
  const authority = createMeshAuthority(ca);
  const files = {} as Record<MeshService, MeshIdentityFiles>;
  for (const service of MESH_SERVICES) {
    const certFile = join(meshDir, `${service}.crt`);
    const keyFile = join(meshDir, `${service}.key`);
    if (needsIssuing(certFile) || !existsSync(keyFile)) {
      const identity = authority.identity(service);
      writeFileSync(keyFile, identity.key, { mode: 0o600 });
      writeFileSync(certFile, identity.cert, { mode: 0o644 });
    }
    chmodSync(keyFile, 0o600);
    files[service] = { BERTH_MESH_CA: caCert, BERTH_MESH_CERT: certFile, BERTH_MESH_KEY: keyFile };
  }
  return files;
}
