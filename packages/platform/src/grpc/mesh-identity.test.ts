import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { StartupError } from "../service/startup-error.js";
import { loadMeshIdentity } from "./mesh-identity.js";
import { createMeshAuthority, meshIdentityEnv } from "./mesh-pki.js";

const mesh = createMeshAuthority();

describe("loadMeshIdentity", () => {
  it("reads PEM text or files and names the service by its certificate", async () => {
    const runtime = mesh.identity("runtime");
    expect(loadMeshIdentity(meshIdentityEnv(runtime)).service).toBe("runtime");
    const dir = await mkdtemp(join(tmpdir(), "berth-mesh-"));
    try {
      const files = { ca: join(dir, "ca.crt"), cert: join(dir, "r.crt"), key: join(dir, "r.key") };
      await writeFile(files.ca, runtime.ca);
      await writeFile(files.cert, runtime.cert);
      await writeFile(files.key, runtime.key);
      const loaded = loadMeshIdentity({
        BERTH_MESH_CA: files.ca,
        BERTH_MESH_CERT: files.cert,
        BERTH_MESH_KEY: files.key,
      });
      expect(loaded).toEqual(runtime);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a certificate from another CA, a key that is not its own, a missing file", () => {
    const gateway = mesh.identity("gateway");
    const stranger = createMeshAuthority().identity("gateway");
    const attempt = (env: Parameters<typeof loadMeshIdentity>[0]) => () => loadMeshIdentity(env);
    expect(attempt({ ...meshIdentityEnv(gateway), BERTH_MESH_CERT: stranger.cert })).toThrow(
      /BERTH_MESH_CERT: not signed by the mesh CA/,
    );
    const wrongKey = { ...meshIdentityEnv(gateway), BERTH_MESH_KEY: mesh.identity("runtime").key };
    expect(attempt(wrongKey)).toThrow(/BERTH_MESH_KEY: not the private key of BERTH_MESH_CERT/);
    expect(attempt({ ...meshIdentityEnv(gateway), BERTH_MESH_CA: "/nonexistent/ca.crt" })).toThrow(
      StartupError,
    );
    // A key's text never appears in the message.
    try {
      attempt(wrongKey)();
    } catch (error) {
      expect((error as Error).message).not.toContain("PRIVATE KEY");
    }
  });
});

describe("issued certificates", () => {
  it("always parse as DER that OpenSSL accepts (minimal serial numbers)", () => {
    // Serials are random: issue enough that a bad encoding could not hide by chance.
    const authority = createMeshAuthority();
    for (let i = 0; i < 6; i++) {
      const identity = authority.identity(`service-${i}`);
      expect(loadMeshIdentity(meshIdentityEnv(identity)).service).toBe(`service-${i}`);
      expect(new X509Certificate(identity.cert).serialNumber).toMatch(
        /^(0[1-9A-F]|[1-7][0-9A-F])[0-9A-F]{30}$/,
      );
    }
  }, 30_000); // six RSA keys on a busy machine
});
