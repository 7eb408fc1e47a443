import { StatusSchema } from "@berth/proto/gen/google/rpc/status_pb";
import { create, isMessage, toBinary } from "@bufbuild/protobuf";
import { AnySchema, anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { dependencyUnavailable, isDatabaseUnavailable } from "./dependency-unavailable.js";

/** The one place where an unknown failure becomes an RPC error; internals never leak. */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  const pgCode = (error as { code?: unknown } | null)?.code;
  // Unique violations that slipped past an explicit check are still a client conflict.
  if (pgCode === "23505") return new ConnectError("already exists", Code.AlreadyExists);
  // An outage is the caller's to retry (503), not a bug (500).
  if (isDatabaseUnavailable(error)) return dependencyUnavailable("database", error);
  return new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}

/** google.rpc.Status bytes for the grpc-status-details-bin trailer. */
export function statusDetailsBin(error: ConnectError): Buffer {
  const status = create(StatusSchema, {
    code: error.code,
    message: error.rawMessage,
    details: error.details.map((d) =>
      "desc" in d
        ? anyPack(d.desc, isMessage(d.value, d.desc) ? d.value : create(d.desc, d.value))
        : create(AnySchema, { typeUrl: `type.googleapis.com/${d.type}`, value: d.value }),
    ),
  });
  return Buffer.from(toBinary(StatusSchema, status));
}

const httpStatusByCode: Record<Code, number> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

/** The HTTP status a REST caller sees for an RPC code (Google's API design guide mapping). */
export function httpStatusOf(code: Code): number {
  return httpStatusByCode[code] ?? 500;
}

/** The canonical upper-snake name of an RPC code, e.g. INVALID_ARGUMENT. */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}
