import { Metadata, ServerInterceptingCall, type ServerInterceptor, status } from "@grpc/grpc-js";
import { ACTOR_HEADER } from "../context/request-context.js";
import type { Logger } from "../logging/logger.js";
import { authorizeMeshCall, MESH_POLICY, type MeshPolicy, mayNameActor } from "./mesh-policy.js";

/** The common name of the peer certificate TLS verified against the mesh CA, if any. */
function callerOf(call: {
  getAuthContext(): { sslPeerCertificate?: { subject?: unknown } } | null;
}) {
  const subject = call.getAuthContext()?.sslPeerCertificate?.subject as
    | Record<string, string | string[]>
    | undefined;
  const name = subject?.CN;
  return typeof name === "string" && name.length > 0 ? name : undefined;
}

/**
 * The server interceptor that authenticates and authorizes every call on a mesh port, for every
 * service the server carries (health and reflection too), before any handler runs. grpc-js puts
 * a certificate in the auth context only when TLS verified it against the mesh CA.
 */
export function createMeshAuthorizer(
  logger: Logger,
  policy: MeshPolicy = MESH_POLICY,
): ServerInterceptor {
  return (descriptor, call) =>
    new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, pass) => {
            const caller = callerOf(call);
            const refusal = authorizeMeshCall(descriptor.path, caller, policy);
            if (!refusal) {
              if (!mayNameActor(caller)) metadata.remove(ACTOR_HEADER);
              return pass(metadata);
            }
            logger.warn(
              { rpc: descriptor.path.slice(1), caller: caller ?? null, code: refusal.code },
              "mesh call refused",
            );
            call.sendStatus({
              code: status[refusal.code],
              details: refusal.message,
              metadata: new Metadata(),
            });
          },
        });
      },
    });
}
