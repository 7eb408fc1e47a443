import { Metadata, ServerInterceptingCall, type ServerInterceptor, status } from "@grpc/grpc-js";
import { ACTOR_HEADER } from "../context/request-context.js";
import type { Logger } from "../logging/logger.js";
import { authorizeMeshCall, MESH_POLICY, type MeshPolicy, mayNameActor } from "./mesh-policy.js";

interface AuthContextCall {
  getAuthContext(): { sslPeerCertificate?: { subject?: unknown } } | null;
}

/** The common name of the peer certificate TLS verified against the mesh CA, if any. */
function commonNameIn(call: AuthContextCall): string | undefined {
  const subject = call.getAuthContext()?.sslPeerCertificate?.subject as
    | Record<string, string | string[]>
    | undefined;
  const name = subject?.CN;
  return typeof name === "string" && name.length > 0 ? name : undefined;
}

// The verified caller of each HTTP/2 connection. TLS fixes the peer certificate for a
// connection's life, and reading it (getPeerCertificate builds the whole certificate object)
// on every call was a measurable share of a service's time under load.
const callers = new WeakMap<object, string | undefined>();

/**
 * The caller of a call: read once per connection. The first interceptor is handed grpc-js's own
 * call, whose stream knows its HTTP/2 session; without one, the certificate is read every time.
 */
function callerOf(call: AuthContextCall): string | undefined {
  const session = (call as { stream?: { session?: object } }).stream?.session;
  if (!session) return commonNameIn(call);
  if (callers.has(session)) return callers.get(session);
  const caller = commonNameIn(call);
  callers.set(session, caller);
  return caller;
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
