import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";
import type { MeshIdentity } from "./mesh-identity.js";

/** The mesh's certificate authority: it signs every service's certificate. */
export interface MeshCa {
  /** PEM certificate, given to every service as the only root it trusts on the mesh. */
  cert: string;
  /** PEM private key; only whoever issues service certificates (npm start, a harness) holds it. */
  key: string;
}

const DAY_MS = 86_400_000;

/** An RSA key pair as node-forge objects; the keys are made by Node's native crypto (fast). */
function newKeyPair() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return {
    pem,
    privateKey: forgeKey,
    publicKey: forge.pki.rsa.setPublicKey(forgeKey.n, forgeKey.e),
  };
}

/** A fresh certificate with a random positive serial, valid from a minute ago for days. */
function newCertificate(publicKey: forge.pki.PublicKey, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // DER integers must be minimal and positive (OpenSSL refuses a leading zero byte followed by
  // a byte below 0x80 as "illegal padding"): a first byte in 0x01..0x7f is both.
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  cert.serialNumber = serial.toString("hex");
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * DAY_MS);
  return cert;
}

/** Creates a new mesh CA (RSA 2048, SHA-256), valid for `days`. */
export function createMeshCa(days = 3650): MeshCa {
  const keys = newKeyPair();
  const cert = newCertificate(keys.publicKey, days);
  const name = [
    { name: "commonName", value: "Berth mesh CA" },
    { name: "organizationName", value: "Berth" },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.pem };
}

/** Service names are DNS labels: they become the certificate's common name and a DNS name. */
const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Issues the certificate of one service, signed by the CA: common name = the service's name
 * (the identity the mesh authorizes), usable as a TLS server and as a TLS client, with the
 * loopback addresses and the service's name as subject alternative names so it can serve too.
 */
export function issueMeshIdentity(ca: MeshCa, service: string, days = 825): MeshIdentity {
  if (!SERVICE_NAME.test(service))
    throw new Error(`not a service name: ${JSON.stringify(service)}`);
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const keys = newKeyPair();
  const cert = newCertificate(keys.publicKey, days);
  cert.setSubject([
    { name: "commonName", value: service },
    { name: "organizationName", value: "Berth" },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true, clientAuth: true },
    {
      name: "subjectAltName",
      altNames: [
        { type: 2, value: service },
        { type: 2, value: "localhost" },
        { type: 7, ip: "127.0.0.1" },
        { type: 7, ip: "::1" },
      ],
    },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { service, ca: ca.cert, cert: forge.pki.certificateToPem(cert), key: keys.pem };
}

/** A CA that issues identities on demand: npm start's, and every test harness's throwaway one. */
export interface MeshAuthority {
  ca: MeshCa;
  /** The identity of a service (issued once, then reused). */
  identity(service: string): MeshIdentity;
}

/** A mesh authority over ca (a new CA when absent). */
export function createMeshAuthority(ca: MeshCa = createMeshCa()): MeshAuthority {
  const issued = new Map<string, MeshIdentity>();
  return {
    ca,
    identity(service) {
      let identity = issued.get(service);
      if (!identity) {
        identity = issueMeshIdentity(ca, service);
        issued.set(service, identity);
      }
      return identity;
    },
  };
}

/** The configuration variables that carry an identity, as PEM text (for a test's env). */
export function meshIdentityEnv(identity: MeshIdentity): {
  BERTH_MESH_CA: string;
  BERTH_MESH_CERT: string;
  BERTH_MESH_KEY: string;
} {
  return {
    BERTH_MESH_CA: identity.ca,
    BERTH_MESH_CERT: identity.cert,
    BERTH_MESH_KEY: identity.key,
  };
}
