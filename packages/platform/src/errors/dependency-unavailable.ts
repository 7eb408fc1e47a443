import { ErrorInfoSchema, RetryInfoSchema } from "@berth/proto/gen/google/rpc/error_details_pb";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

/** Seconds a caller is told to wait before retrying after an outage (Retry-After, RetryInfo). */
export const RETRY_AFTER_SECONDS = 1;

const DOMAIN = "berth";
const REASON = "DEPENDENCY_UNAVAILABLE";

// Socket errors that mean the dependency is not reachable now, not that the request is wrong.
const CONNECTION_ERRNOS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
// Postgres SQLSTATEs of a server that is going away or refusing connections: class 08
// (connection exception), 57P01..57P03 (admin/crash shutdown, cannot connect now), 53300 (too many
// connections).
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[1-3]|53300)$/;
// Error names given by the pool layers: knex's "Timeout acquiring a connection" and tarn's.
const POOL_TIMEOUT_NAMES = new Set(["KnexTimeoutError", "TimeoutError"]);
// node-postgres raises these two without any code when the server closes the socket; the text is
// the only signal it gives (pg's own tests match it the same way).
const PG_CONNECTION_LOST = [
  "Connection terminated unexpectedly",
  "Client has encountered a connection error and is not queryable",
  "Connection terminated due to connection timeout",
  // knex's answer to a transaction's next query once the server ended its connection mid-way
  // (57P01 on shutdown): knex rolled the transaction back on the connection error, and the
  // error a handler sees is this one, not the 57P01 (seen in the fault suite's Postgres outage).
  "Transaction query already complete",
];

/**
 * Whether a failure means the database could not be reached (refused, reset, shut down, pool
 * exhausted) rather than that a query was wrong. Follows `cause` chains; MikroORM's exceptions
 * copy the driver error's fields, so they are recognised too.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const { code, name, message } = e as { code?: unknown; name?: unknown; message?: unknown };
    if (
      typeof code === "string" &&
      (CONNECTION_ERRNOS.has(code) || UNAVAILABLE_SQLSTATE.test(code))
    )
      return true;
    if (typeof name === "string" && POOL_TIMEOUT_NAMES.has(name)) return true;
    if (name === "ConnectionException") return true;
    if (typeof message === "string" && PG_CONNECTION_LOST.some((m) => message.startsWith(m)))
      return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * UNAVAILABLE naming what is unavailable ("the database is unavailable"), with a Retry-After
 * header and google.rpc.RetryInfo, and an ErrorInfo that marks the message as safe to show: a
 * gateway re-serving the error keeps it instead of a generic one.
 */
export function dependencyUnavailable(dependency: string, cause?: unknown): ConnectError {
  return new ConnectError(
    `the ${dependency} is unavailable`,
    Code.Unavailable,
    { "retry-after": String(RETRY_AFTER_SECONDS) },
    [
      {
        desc: RetryInfoSchema,
        value: create(RetryInfoSchema, { retryDelay: { seconds: BigInt(RETRY_AFTER_SECONDS) } }),
      },
      {
        desc: ErrorInfoSchema,
        value: create(ErrorInfoSchema, {
          reason: REASON,
          domain: DOMAIN,
          metadata: { dependency },
        }),
      },
    ],
    cause,
  );
}

/** The dependency an UNAVAILABLE error of dependencyUnavailable names, if it is one. */
export function unavailableDependencyOf(error: ConnectError): string | undefined {
  if (error.code !== Code.Unavailable) return undefined;
  const info = error
    .findDetails(ErrorInfoSchema)
    .find((d) => d.domain === DOMAIN && d.reason === REASON);
  return info?.metadata.dependency;
}

/**
 * UNAVAILABLE for something that passes by itself (a workload still starting): Retry-After and
 * google.rpc.RetryInfo tell the caller when to ask again; every transport and the MCP proxy
 * carry them (retryAfterOf).
 */
export function unavailableRetryAfter(message: string, seconds: number): ConnectError {
  const whole = Math.max(1, Math.ceil(seconds));
  return new ConnectError(message, Code.Unavailable, { "retry-after": String(whole) }, [
    {
      desc: RetryInfoSchema,
      value: create(RetryInfoSchema, { retryDelay: { seconds: BigInt(whole) } }),
    },
  ]);
}

/** The seconds an error's google.rpc.RetryInfo asks the caller to wait, if it says. */
export function retryAfterOf(error: ConnectError): number | undefined {
  const delay = error.findDetails(RetryInfoSchema)[0]?.retryDelay;
  return delay ? Math.max(1, Number(delay.seconds)) : undefined;
}
