import { describe, expect, it } from "vitest";
import { authorizeMeshCall } from "./mesh-policy.js";

describe("authorizeMeshCall (MESH_POLICY)", () => {
  const decide = (path: string, caller?: string) => authorizeMeshCall(path, caller)?.code ?? "OK";

  it("refuses every call without a verified certificate, health included", () => {
    expect(decide("/berth.runtime.v1.RuntimeService/ResolveEndpoint")).toBe("UNAUTHENTICATED");
    expect(decide("/grpc.health.v1.Health/Check")).toBe("UNAUTHENTICATED");
  });

  it("gives upstream credentials (ResolveEndpoint) to the gateway, and to a runtime handing a request on to the owner", () => {
    const path = "/berth.runtime.v1.RuntimeService/ResolveEndpoint";
    expect(decide(path, "gateway")).toBe("OK");
    expect(decide(path, "runtime")).toBe("OK");
    for (const other of ["instances", "registry"])
      expect(decide(path, other)).toBe("PERMISSION_DENIED");
    // The runtime's other methods (workloads, logs, tools) stay the gateway's.
    expect(decide("/berth.runtime.v1.RuntimeService/GetWorkload", "runtime")).toBe(
      "PERMISSION_DENIED",
    );
  });

  it("gives decrypted secrets to the runtime only", () => {
    const path = "/berth.instances.v1.InstanceSecretsService/ResolveInstanceSecrets";
    expect(decide(path, "runtime")).toBe("OK");
    expect(decide(path, "gateway")).toBe("PERMISSION_DENIED");
  });

  it("lets only the gateway write instances and catalog entries; instances may read entries", () => {
    expect(decide("/berth.instances.v1.InstancesService/CreateInstance", "gateway")).toBe("OK");
    expect(decide("/berth.instances.v1.InstancesService/CreateInstance", "runtime")).toBe(
      "PERMISSION_DENIED",
    );
    expect(decide("/berth.registry.v1.RegistryService/GetServer", "instances")).toBe("OK");
    expect(decide("/berth.registry.v1.RegistryService/DeleteServer", "instances")).toBe(
      "PERMISSION_DENIED",
    );
  });

  it("opens health and reflection to any mesh identity, and unknown services to the gateway", () => {
    expect(decide("/grpc.health.v1.Health/Check", "runtime")).toBe("OK");
    expect(decide("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "registry")).toBe(
      "OK",
    );
    expect(decide("/berth.audit.v1.AuditService/ListEvents", "gateway")).toBe("OK");
    expect(decide("/berth.audit.v1.AuditService/ListEvents", "runtime")).toBe("PERMISSION_DENIED");
  });
});
