import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { StartupError } from "../service/startup-error.js";

/**
 * Who a process is on the mesh: its certificate and key (signed by the mesh CA) and the CA it
 * trusts. Every gRPC server and client between services is built from one.
 */
export interface MeshIdentity {
  /** The service's name: the common name of its certificate. */
  service: string;
  /** PEM of the mesh CA certificate. */
  ca: string;
  /** PEM of this service's certificate. */
  cert: string;
  /** PEM of this service's private key. */
  key: string;
}

/** The variables that carry a service's mesh identity (each a PEM text or a file path). */
export interface MeshIdentityConfig {
  BERTH_MESH_CA: string;
  BERTH_MESH_CERT: string;
  BERTH_MESH_KEY: string;
}

/** A PEM value as given, or the contents of the file it names. */
function pemOf(variable: string, value: string): string {
  if (value.trimStart().startsWith("-----BEGIN")) return value;
  try {
    return readFileSync(value, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code ?? "unreadable";
    throw new StartupError(`${variable}: cannot read ${value} (${code})`);
  }
}

/** The common name of a PEM certificate's subject, if it has one. */
export function commonNameOf(certificatePem: string): string | undefined {
  const subject = new X509Certificate(certificatePem).subject;
  return /^CN=(.+)$/m.exec(subject)?.[1];
}

/**
 * Reads the mesh identity from configuration, refusing (one StartupError naming the variable,
 * never a key's text) a certificate that does not parse, that the CA did not sign, that has
 * expired, or whose key is not the certificate's.
 */
export function loadMeshIdentity(config: MeshIdentityConfig): MeshIdentity {
  const ca = pemOf("BERTH_MESH_CA", config.BERTH_MESH_CA);
  const cert = pemOf("BERTH_MESH_CERT", config.BERTH_MESH_CERT);
  const key = pemOf("BERTH_MESH_KEY", config.BERTH_MESH_KEY);
  let caCert: X509Certificate;
  let own: X509Certificate;
  try {
    caCert = new X509Certificate(ca);
  } catch {
    throw new StartupError("BERTH_MESH_CA: not a PEM certificate");
  }
  try {
    own = new X509Certificate(cert);
  } catch {
    throw new StartupError("BERTH_MESH_CERT: not a PEM certificate");
  }
  if (!own.checkIssued(caCert) || !own.verify(caCert.publicKey)) {
    throw new StartupError("BERTH_MESH_CERT: not signed by the mesh CA in BERTH_MESH_CA");
  }
  if (Date.parse(own.validTo) < Date.now()) {
    throw new StartupError(`BERTH_MESH_CERT: expired on ${own.validTo}`);
  }
  try {
    if (!own.checkPrivateKey(createPrivateKey(key))) throw new Error("mismatch");
  } catch {
    throw new StartupError("BERTH_MESH_KEY: not the private key of BERTH_MESH_CERT");
  }
  const service = commonNameOf(cert);
  if (!service) throw new StartupError("BERTH_MESH_CERT: has no common name (the service name)");
  return { service, ca, cert, key };
}
