import {
  type BadRequest_FieldViolation,
  BadRequestSchema,
} from "@berth/proto/gen/google/rpc/error_details_pb";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

export { Code, ConnectError } from "@connectrpc/connect";

/** One problem with one field of a request, in the form of google.rpc.BadRequest. */
export interface FieldViolation {
  /** Path of the field, e.g. `server.env_schema[2].name`. */
  field: string;
  description: string;
}

/**
 * Berth's one error type is ConnectError: it carries an RPC code and typed details
 * (google.rpc.BadRequest for field violations), and every transport (gRPC, Connect, REST)
 * maps it in status.ts. These factories keep messages and codes consistent.
 */
export function invalidArgument(violations: FieldViolation[], message?: string): ConnectError {
  const text =
    message ??
    violations.map((v) => `${v.field}: ${v.description}`).join("; ") ??
    "invalid argument";
  const badRequest = create(BadRequestSchema, {
    fieldViolations: violations.map((v) => ({ field: v.field, description: v.description })),
  });
  return new ConnectError(text, Code.InvalidArgument, undefined, [
    { desc: BadRequestSchema, value: badRequest },
  ]);
}

/** A resource that does not exist. */
export function notFound(kind: string, id: string): ConnectError {
  return new ConnectError(`${kind} ${JSON.stringify(id)} not found`, Code.NotFound);
}

/** A resource whose unique key is taken. */
export function alreadyExists(kind: string, key: string): ConnectError {
  return new ConnectError(`${kind} ${JSON.stringify(key)} already exists`, Code.AlreadyExists);
}

/** A request that the current state of the system does not allow. */
export function failedPrecondition(message: string): ConnectError {
  return new ConnectError(message, Code.FailedPrecondition);
}

/** A stale revision: the caller should re-read and retry. */
export function aborted(message: string): ConnectError {
  return new ConnectError(message, Code.Aborted);
}

/** A dependency (database, bus, another service) that does not answer now. */
export function unavailable(message: string, cause?: unknown): ConnectError {
  return new ConnectError(message, Code.Unavailable, undefined, undefined, cause);
}

/** The field violations carried by an error, if it is INVALID_ARGUMENT with details. */
export function fieldViolationsOf(error: ConnectError): FieldViolation[] {
  return error
    .findDetails(BadRequestSchema)
    .flatMap((d) => d.fieldViolations)
    .map((v: BadRequest_FieldViolation) => ({ field: v.field, description: v.description }));
}
