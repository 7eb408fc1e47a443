import { Code, ConnectError, createServiceClient, type MeshIdentity } from "@berth/platform";
import { createMeshAuthority } from "@berth/platform/mesh-pki";
import {
  InstanceSecretsService,
  InstancesService,
} from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { RuntimeService } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { useEngines } from "@berth/testkit";
import type { DescService } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { meshIdentity, startMesh, type TestMesh } from "./support/mesh.js";

// The attacks of issue 12 item 1 against a real mesh: a stranger on the internal ports, and a
// service reaching for a method that is not its own.
describe("internal ports answer mesh identities only, each to its own methods", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;
  const instanceSpec = { type: "url", endpoint: "http://127.0.0.1:9/mcp" };

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startMesh(engines, { services: ["registry", "instances", "runtime"] });
  });
  afterAll(async () => {
    await mesh?.stop();
    await engines?.cleanup();
  });

  const address = (name: "registry" | "instances" | "runtime") =>
    `127.0.0.1:${mesh.services[name]!.port}`;
  const codeOf = (call: Promise<unknown>) =>
    call.then(
      () => "OK",
      (error: unknown) => Code[ConnectError.from(error).code],
    );
  /** A client with TLS that trusts the mesh CA but presents no certificate. */
  const anonymous = <S extends DescService>(service: S, at: string) =>
    createClient(
      service,
      createGrpcTransport({
        baseUrl: `https://${at}`,
        nodeOptions: { ca: meshIdentity("gateway").ca },
        defaultTimeoutMs: 5_000,
      }),
    );
  const as = <S extends DescService>(service: S, at: string, identity: MeshIdentity) =>
    createServiceClient(service, at, { identity, defaultTimeoutMs: 5_000 });

  it("refuses ResolveEndpoint and CreateInstance without a certificate", async () => {
    const runtime = anonymous(RuntimeService, address("runtime"));
    expect(await codeOf(runtime.resolveEndpoint({ instanceId: crypto.randomUUID() }))).toBe(
      "Unauthenticated",
    );
    const instances = anonymous(InstancesService, address("instances"));
    expect(
      await codeOf(
        instances.createInstance({ instance: { name: "intruder", jsonSpec: instanceSpec } }),
      ),
    ).toBe("Unauthenticated");
    // Plaintext HTTP/2 gets no gRPC answer at all.
    const plaintext = createClient(
      InstancesService,
      createGrpcTransport({ baseUrl: `http://${address("instances")}`, defaultTimeoutMs: 5_000 }),
    );
    expect(await codeOf(plaintext.listInstances({}))).not.toMatch(/^(OK|PermissionDenied)$/);
  });

  it("refuses a certificate from another CA that claims to be the gateway", async () => {
    const impostor = createMeshAuthority().identity("gateway");
    const client = createClient(
      InstancesService,
      createGrpcTransport({
        baseUrl: `https://${address("instances")}`,
        nodeOptions: { ca: meshIdentity("gateway").ca, cert: impostor.cert, key: impostor.key },
      }),
    );
    expect(await codeOf(client.listInstances({}))).toBe("Unauthenticated");
  });

  it("refuses a service's certificate on a method that is not its own", async () => {
    const runtimeId = meshIdentity("runtime");
    const instancesId = meshIdentity("instances");
    const registryId = meshIdentity("registry");
    // The runtime may not write instances, nor the instances service ask for upstream tokens.
    expect(
      await codeOf(
        as(InstancesService, address("instances"), runtimeId).createInstance({
          instance: { name: "sideways", jsonSpec: instanceSpec },
        }),
      ),
    ).toBe("PermissionDenied");
    expect(
      await codeOf(
        as(RuntimeService, address("runtime"), instancesId).resolveEndpoint({
          instanceId: crypto.randomUUID(),
        }),
      ),
    ).toBe("PermissionDenied");
    // Only the runtime reads decrypted secrets; the registry cannot, the gateway cannot.
    for (const identity of [registryId, meshIdentity("gateway")]) {
      expect(
        await codeOf(
          as(InstanceSecretsService, address("instances"), identity).resolveInstanceSecrets({
            instanceId: crypto.randomUUID(),
          }),
        ),
      ).toBe("PermissionDenied");
    }
    // The instances service may read the catalog but not change it.
    const registry = as(RegistryService, address("registry"), instancesId);
    expect(await codeOf(registry.getServer({ id: "nothing-here" }))).toBe("NotFound");
    expect(await codeOf(registry.createServer({ server: { name: "planted" } }))).toBe(
      "PermissionDenied",
    );
  });

  it("carries legitimate traffic: the gateway's certificate, and REST through the gateway", async () => {
    const gateway = meshIdentity("gateway");
    const created = await as(InstancesService, address("instances"), gateway).createInstance({
      instance: { name: "legit", jsonSpec: instanceSpec },
    });
    expect(created.instance?.name).toBe("legit");
    const viaRest = await fetch(`${mesh.gateway.url}/v1/instances/legit`, {
      headers: { authorization: `Bearer ${mesh.apiKey}` },
    });
    expect(viaRest.status).toBe(200);
    const ready = await fetch(`${mesh.gateway.url}/readyz`);
    expect(ready.status).toBe(200);
  });
});
