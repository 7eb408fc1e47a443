export { metadataToHeaders } from "./call-context.js";
export { createServiceClient, type ServiceClientOptions } from "./grpc-client.js";
export {
  bind,
  createGrpcServer,
  type GrpcServer,
  type GrpcServerOptions,
  type ServiceBinding,
} from "./grpc-server.js";
export { toGrpcServiceDefinition } from "./service-definition.js";
