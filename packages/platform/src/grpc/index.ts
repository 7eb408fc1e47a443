export { metadataToHeaders } from "./call-context.js";
export { createServiceClient, type ServiceClientOptions } from "./grpc-client.js";
export {
  bind,
  createGrpcServer,
  type GrpcServer,
  type GrpcServerOptions,
  type ServiceBinding,
} from "./grpc-server.js";
export { createMeshAuthorizer } from "./mesh-authorizer.js";
export {
  commonNameOf,
  loadMeshIdentity,
  type MeshIdentity,
  type MeshIdentityConfig,
} from "./mesh-identity.js";
// mesh-pki (issuing certificates) is "@berth/platform/mesh-pki": services never load node-forge.
export {
  ANY_IDENTITY,
  authorizeMeshCall,
  MESH_POLICY,
  type MeshCallers,
  type MeshPolicy,
  type MeshRefusal,
} from "./mesh-policy.js";
export { toGrpcServiceDefinition } from "./service-definition.js";
