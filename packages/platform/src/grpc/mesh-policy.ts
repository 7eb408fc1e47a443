/**
 * Which service may call which method on the mesh: THE table of internal authorization, read by
 * the one interceptor every gRPC server runs (mesh-authorizer.ts). Keys are full service names,
 * then method names or "*". A service missing here is open to the gateway only: the gateway is
 * the one component that authenticates people, so anything new is reachable through it and
 * through nothing else until this table says otherwise.
 */
export type MeshPolicy = Readonly<Record<string, Readonly<Record<string, MeshCallers>>>>;

/** The services allowed, or ANY_IDENTITY for every holder of a mesh certificate. */
export type MeshCallers = readonly string[] | typeof ANY_IDENTITY;

/** Any caller with a certificate from the mesh CA (health checks, reflection). */
export const ANY_IDENTITY = "any-mesh-identity";

const GATEWAY_ONLY = ["gateway"] as const;

export const MESH_POLICY: MeshPolicy = {
  "grpc.health.v1.Health": { "*": ANY_IDENTITY },
  "grpc.reflection.v1.ServerReflection": { "*": ANY_IDENTITY },
  "grpc.reflection.v1alpha.ServerReflection": { "*": ANY_IDENTITY },
  // The instances service reads a catalog entry to validate an instance against it.
  "berth.registry.v1.RegistryService": { "*": GATEWAY_ONLY, GetServer: ["gateway", "instances"] },
  // The runtime reads every instance's desired state when it starts (recovery after an outage).
  "berth.instances.v1.InstancesService": {
    "*": GATEWAY_ONLY,
    ListInstances: ["gateway", "runtime"],
  },
  // Decrypted secret values go to the runtime, which starts the workloads, and nobody else.
  "berth.instances.v1.InstanceSecretsService": { "*": ["runtime"] },
  // Each user's delegated upstream grant: the gateway's MCP proxy injects it, nobody else reads it;
  // also the one instance secret the gateway may open (GetDelegationClientSecret: a delegation's
  // confidential client secret, for the upstream's token endpoint).
  "berth.instances.v1.UserGrantsService": { "*": GATEWAY_ONLY },
  // ResolveEndpoint answers upstream credentials: the gateway's MCP proxy, and a runtime handing
  // a request on to the runtime that owns the instance (runtime leases).
  "berth.runtime.v1.RuntimeService": {
    "*": GATEWAY_ONLY,
    ResolveEndpoint: ["gateway", "runtime"],
    WakeInstance: ["gateway", "runtime"],
    ReportActivity: ["gateway", "runtime"],
  },
};

/**
 * Whether a caller may name the person behind its call (the x-berth-actor header, which the
 * audit trail records). Only the gateway authenticates people; from any other peer the header is
 * dropped, so a leaked service certificate cannot put someone else's name in the audit trail.
 */
export function mayNameActor(caller: string | undefined): boolean {
  return caller !== undefined && (GATEWAY_ONLY as readonly string[]).includes(caller);
}

/** Why a call is refused, or undefined when it may proceed. */
export interface MeshRefusal {
  code: "UNAUTHENTICATED" | "PERMISSION_DENIED";
  message: string;
}

/**
 * Decides one call: path is the gRPC path (/package.Service/Method), caller the service name of
 * the peer's verified certificate (undefined: no certificate, or one the mesh CA did not sign).
 */
export function authorizeMeshCall(
  path: string,
  caller: string | undefined,
  policy: MeshPolicy = MESH_POLICY,
): MeshRefusal | undefined {
  if (!caller) {
    return {
      code: "UNAUTHENTICATED",
      message: "a mesh client certificate is required on internal ports",
    };
  }
  const [, service = "", method = ""] = path.split("/");
  const rules = policy[service];
  const allowed: MeshCallers = rules ? (rules[method] ?? rules["*"] ?? []) : GATEWAY_ONLY;
  if (allowed === ANY_IDENTITY || allowed.includes(caller)) return undefined;
  return {
    code: "PERMISSION_DENIED",
    message: `service ${caller} may not call ${service}/${method}`,
  };
}
