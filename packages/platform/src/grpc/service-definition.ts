import {
  create,
  type DescMessage,
  type DescMethod,
  type DescService,
  fromBinary,
  isMessage,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** Serializers for one message type; accepts init shapes as well as messages. */
function codec(schema: DescMessage) {
  return {
    serialize: (value: MessageInitShape<DescMessage>) =>
      Buffer.from(toBinary(schema, isMessage(value, schema) ? value : create(schema, value))),
    deserialize: (bytes: Buffer) => fromBinary(schema, bytes),
  };
}

/** The grpc-js method definition of a protobuf-es method (no proto-loader needed). */
export function toGrpcMethodDefinition(
  service: DescService,
  method: DescMethod,
): MethodDefinition<unknown, unknown> {
  const input = codec(method.input);
  const output = codec(method.output);
  return {
    path: `/${service.typeName}/${method.name}`,
    originalName: method.localName,
    requestStream:
      method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream:
      method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: input.serialize as (value: unknown) => Buffer,
    requestDeserialize: input.deserialize,
    responseSerialize: output.serialize as (value: unknown) => Buffer,
    responseDeserialize: output.deserialize,
  };
}

/** The grpc-js service definition of a protobuf-es service, keyed by method local name. */
export function toGrpcServiceDefinition(service: DescService): ServiceDefinition {
  return Object.fromEntries(
    service.methods.map((method) => [method.localName, toGrpcMethodDefinition(service, method)]),
  );
}
