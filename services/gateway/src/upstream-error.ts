import { Code, ConnectError } from "@connectrpc/connect";

/** Messages that may carry internal addresses or transport details: replaced at the edge. */
const GENERIC: Partial<Record<Code, string>> = {
  [Code.Unavailable]: "service unavailable, try again",
  [Code.DeadlineExceeded]: "deadline exceeded",
  [Code.Unknown]: "internal error",
  [Code.Internal]: "internal error",
};

/**
 * An upstream service's error as the gateway re-serves it: same code, message and details, but
 * none of the upstream call's transport metadata (its content-type and grpc-status headers would
 * otherwise leak into the caller's response), and no internal address in transport failures.
 */
export function fromUpstream(error: unknown, service: string): ConnectError {
  const upstream = ConnectError.from(error);
  const generic = GENERIC[upstream.code];
  const message = generic ? `${service}: ${generic}` : upstream.rawMessage;
  return new ConnectError(
    message,
    upstream.code,
    undefined,
    generic ? [] : (upstream.details as ConstructorParameters<typeof ConnectError>[3]),
  );
}
