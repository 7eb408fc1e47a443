import { BadRequestSchema } from "@berth/proto/gen/google/rpc/error_details_pb";
import { Code, ConnectError } from "@connectrpc/connect";

/** One problem with one field of a request. */
export interface FieldViolation {
  /** Path of the field, e.g. `instance.json_spec.environment.API_KEY`. */
  field: string;
  description: string;
}

/** The one error type of the SDK: every failed call throws it. */
export class BerthError extends Error {
  override readonly name = "BerthError";
  /** The status name, e.g. INVALID_ARGUMENT, NOT_FOUND, UNAUTHENTICATED. */
  readonly code: string;
  /** The numeric gRPC/Connect code. */
  readonly rpcCode: Code;
  /** For INVALID_ARGUMENT: each field that was wrong and why. */
  readonly fieldViolations: FieldViolation[];

  /** Wraps a ConnectError (kept as the cause). */
  constructor(cause: ConnectError) {
    super(cause.rawMessage, { cause });
    this.rpcCode = cause.code;
    this.code = Code[cause.code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
    this.fieldViolations = cause
      .findDetails(BadRequestSchema)
      .flatMap((d) =>
        d.fieldViolations.map((v) => ({ field: v.field, description: v.description })),
      );
  }
}

/** Any failure of a call as a BerthError (a gateway that cannot be reached is UNAVAILABLE). */
export function toBerthError(error: unknown): BerthError {
  if (error instanceof BerthError) return error;
  const connectError = ConnectError.from(error, Code.Unavailable);
  // fetch rejects with a TypeError when it cannot connect; Connect reports that as UNKNOWN.
  if (connectError.code === Code.Unknown && connectError.cause instanceof TypeError) {
    return new BerthError(
      new ConnectError(
        connectError.rawMessage,
        Code.Unavailable,
        undefined,
        undefined,
        connectError.cause,
      ),
    );
  }
  return new BerthError(connectError);
}
