import { create, type DescFile, type DescService, toBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { Server } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer, loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { protoPath as healthProtoPath } from "grpc-health-check";

/** Every file the services' files depend on, dependencies first. */
function collectFiles(services: DescService[]): FileDescriptorProto[] {
  const seen = new Set<string>();
  const ordered: FileDescriptorProto[] = [];
  const visit = (file: DescFile) => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file.proto);
  };
  for (const service of services) visit(service.file);
  return ordered;
}

/**
 * Adds gRPC server reflection (v1 and v1alpha) describing the given services and the health
 * service, fed from the descriptors protobuf-es generated, so grpcurl and friends can list and call.
 */
export function addReflection(server: Server, services: DescService[]): void {
  const set = create(FileDescriptorSetSchema, { file: collectFiles(services) });
  const berth = loadFileDescriptorSetFromBuffer(
    Buffer.from(toBinary(FileDescriptorSetSchema, set)),
  );
  const health = loadSync(healthProtoPath);
  new ReflectionService({ ...health, ...berth }).addToServer(server);
}
