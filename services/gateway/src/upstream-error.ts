import { Code, ConnectError, unavailableDependencyOf } from "@berth/platform";

/** Messages that may carry internal addresses or transport details: replaced at the edge. */
const GENERIC: Partial<Record<Code, string>> = {
  [Code.DeadlineExceeded]: "deadline exceeded",
  [Code.Unknown]: "internal error",
  [Code.Internal]: "internal error",
};

type Details = ConstructorParameters<typeof ConnectError>[3];

// What a call whose stream or connection broke off ends with, depending on how it broke.
const LOST = new Set([Code.Canceled, Code.Internal, Code.Unknown, Code.Aborted]);

/**
 * A status the service sent arrives with its grpc-status (kept in the error's metadata by
 * connect); an error without one was made by the client transport: the service never answered.
 */
function isTransportFailure(error: ConnectError): boolean {
  return !error.metadata.has("grpc-status");
}

/**
 * An upstream service's error as the gateway re-serves it: same code, message and details, but
 * none of the upstream call's transport metadata (its content-type and grpc-status headers would
 * otherwise leak into the caller's response), and no internal address in transport failures.
 *
 * A service that is down, or lost mid-call (its stream reset or its connection closed before it
 * sent a status: CANCELED although our caller did not cancel, INTERNAL, UNKNOWN), is UNAVAILABLE
 * naming the service, so clients retry instead of giving up on a 499 or a 500. A dependency
 * outage the service reported itself (the database) keeps its message.
 */
export function fromUpstream(
  error: unknown,
  service: string,
  callerCanceled: boolean,
): ConnectError {
  const upstream = ConnectError.from(error);
  if (upstream.code === Code.Canceled && callerCanceled) return upstream;
  if (unavailableDependencyOf(upstream) !== undefined) {
    return new ConnectError(
      upstream.rawMessage,
      Code.Unavailable,
      undefined,
      upstream.details as Details,
    );
  }
  if (
    upstream.code === Code.Unavailable ||
    (isTransportFailure(upstream) && LOST.has(upstream.code))
  ) {
    return new ConnectError(`the ${service} service is unavailable`, Code.Unavailable);
  }
  const generic = GENERIC[upstream.code];
  const message = generic ? `${service}: ${generic}` : upstream.rawMessage;
  return new ConnectError(
    message,
    upstream.code,
    undefined,
    generic ? [] : (upstream.details as Details),
  );
}
