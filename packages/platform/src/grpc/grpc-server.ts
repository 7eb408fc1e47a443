import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { Server, ServerCredentials, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "../logging/logger.js";
import { adaptMethod } from "./handler-adapter.js";
import { createMeshAuthorizer } from "./mesh-authorizer.js";
import type { MeshIdentity } from "./mesh-identity.js";
import type { MeshPolicy } from "./mesh-policy.js";
import { addReflection } from "./reflection.js";
import { toGrpcServiceDefinition } from "./service-definition.js";

/** One service and its implementation, written against connect's ServiceImpl type. */
export interface ServiceBinding<S extends DescService = DescService> {
  service: S;
  impl: Partial<ServiceImpl<S>>;
}

/** Binds a service to its implementation with the types checked. */
export function bind<S extends DescService>(
  service: S,
  impl: Partial<ServiceImpl<S>>,
): ServiceBinding {
  return { service, impl } as unknown as ServiceBinding;
}

/** Options of createGrpcServer. */
export interface GrpcServerOptions {
  services: ServiceBinding[];
  logger: Logger;
  /** The server's certificate and the mesh CA: the port speaks TLS only and asks for client certificates. */
  identity: MeshIdentity;
  /** Who may call what; MESH_POLICY unless a test narrows it. */
  policy?: MeshPolicy;
  /** Bytes; larger messages are refused with RESOURCE_EXHAUSTED. */
  maxMessageBytes?: number;
}

/** A gRPC server with health and reflection. */
export interface GrpcServer {
  /** Binds host:port (port 0 picks a free one) and resolves to the bound port. */
  listen(port: number, host?: string): Promise<number>;
  /** Marks every service SERVING or NOT_SERVING in grpc.health.v1. */
  setServing(serving: boolean): void;
  /** Stops accepting calls, lets in-flight ones finish for up to graceMs, then cuts them. */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * TLS that asks every client for a certificate from the mesh CA but lets the handshake finish
 * without one, so the mesh authorizer can answer UNAUTHENTICATED (a status a client can read)
 * instead of a bare connection reset. grpc-js reports a peer certificate only when TLS verified it.
 */
class MeshServerCredentials extends ServerCredentials {
  constructor(identity: MeshIdentity) {
    super(
      { requestCert: true, rejectUnauthorized: false, minVersion: "TLSv1.2" },
      { ca: identity.ca, cert: identity.cert, key: identity.key },
    );
  }
  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

/**
 * Creates a grpc-js server for protobuf-es services: each method is adapted from a connect-style
 * implementation, with the standard grpc.health.v1 service and server reflection beside them.
 * Methods left out of an implementation answer UNIMPLEMENTED. Every call, health and reflection
 * included, must come from a mesh identity the policy allows (createMeshAuthorizer).
 */
export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const max = options.maxMessageBytes ?? 4 * 1024 * 1024;
  const server = new Server({
    "grpc.max_receive_message_length": max,
    "grpc.max_send_message_length": max,
    interceptors: [createMeshAuthorizer(options.logger, options.policy)],
  });
  const credentials = new MeshServerCredentials(options.identity);
  const names = options.services.map((b) => b.service.typeName);
  const health = new HealthImplementation(
    Object.fromEntries(["", ...names].map((n) => [n, "NOT_SERVING"])),
  );
  for (const { service, impl } of options.services) {
    const handlers: UntypedServiceImplementation = {};
    const methods = impl as unknown as Record<
      string,
      ((req: unknown, ctx: unknown) => unknown) | undefined
    >;
    for (const method of service.methods) {
      const handler = methods[method.localName];
      if (handler)
        handlers[method.localName] = adaptMethod(
          options.logger,
          service,
          method,
          handler.bind(impl),
        );
    }
    server.addService(toGrpcServiceDefinition(service), handlers);
  }
  health.addToServer(server);
  addReflection(
    server,
    options.services.map((b) => b.service),
  );

  const setServing = (serving: boolean) => {
    for (const name of ["", ...names]) health.setStatus(name, serving ? "SERVING" : "NOT_SERVING");
  };
  return {
    listen: (port, host = "127.0.0.1") =>
      new Promise((resolve, reject) => {
        server.bindAsync(`${host}:${port}`, credentials, (error, bound) =>
          error ? reject(error) : resolve(bound),
        );
      }),
    setServing,
    shutdown: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        setServing(false);
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
