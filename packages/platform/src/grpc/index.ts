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
export {
  createMeshAuthority,
  createMeshCa,
  issueMeshIdentity,
  type MeshAuthority,
  type MeshCa,
  meshIdentityEnv,
} from "./mesh-pki.js";
export {
  ANY_IDENTITY,
  authorizeMeshCall,
  MESH_POLICY,
  type MeshCallers,
  type MeshPolicy,
  type MeshRefusal,
} from "./mesh-policy.js";
export { toGrpcServiceDefinition } from "./service-definition.js";
