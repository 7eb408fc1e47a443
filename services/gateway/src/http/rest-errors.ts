import {
  Code,
  ConnectError,
  codeName,
  fieldViolationsOf,
  httpStatusOf,
  type Logger,
  toConnectError,
} from "@berth/platform";
import { berthRegistry } from "@berth/proto";
import { BadRequestSchema } from "@berth/proto/gen/google/rpc/error_details_pb";
import { type JsonObject, type JsonValue, type Registry, toJson } from "@bufbuild/protobuf";
import { AnySchema, anyPack } from "@bufbuild/protobuf/wkt";
import { edgeHeaders } from "../edge-headers.js";
import type { HttpResponse } from "./types.js";

/** A failure of the HTTP exchange itself whose status is not its RPC code's (405, 413, 415). */
export class RestHttpError extends ConnectError {
  constructor(
    readonly httpStatus: number,
    code: Code,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message, code);
  }

  // ConnectError's own check accepts any ConnectError-shaped value; this class needs the real one.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(RestHttpError, value);
  }
}

// Their messages may describe internals (queries, addresses, stack traces): never shown to callers.
const OPAQUE = new Set([Code.Internal, Code.Unknown, Code.DataLoss]);

/** The HTTP status and Google-style JSON error body (`{"error":{code,status,message,details}}`). */
export function restErrorBody(
  error: unknown,
  registry: Registry = berthRegistry,
): { status: number; body: JsonObject } {
  const err = toConnectError(error);
  const status = err instanceof RestHttpError ? err.httpStatus : httpStatusOf(err.code);
  const opaque = OPAQUE.has(err.code);
  const body = {
    error: {
      code: status,
      status: codeName(err.code),
      message: opaque ? "internal error" : err.rawMessage,
      details: opaque ? [] : detailsJson(err, registry),
    },
  };
  return { status, body };
}

function detailsJson(err: ConnectError, registry: Registry): JsonValue[] {
  const details: JsonValue[] = [];
  const violations = fieldViolationsOf(err);
  if (violations.length > 0) {
    const fieldViolations = violations.map((v) => ({ field: v.field, description: v.description }));
    details.push({ "@type": `type.googleapis.com/${BadRequestSchema.typeName}`, fieldViolations });
  }
  for (const message of err.findDetails(registry)) {
    const schema = registry.getMessage(message.$typeName);
    if (!schema || schema.typeName === BadRequestSchema.typeName) continue;
    details.push(toJson(AnySchema, anyPack(schema, message), { registry }));
  }
  return details;
}

/** Writes an error as a REST response; 5xx are logged with their cause, which callers never see. */
export function writeRestError(
  res: HttpResponse,
  error: unknown,
  logger: Logger,
  registry: Registry = berthRegistry,
): void {
  const { status, body } = restErrorBody(error, registry);
  if (status >= 500) logger.error({ err: error }, "REST call failed");
  if (res.headersSent) {
    // Too late for a status line (a stream was under way): cut the response short.
    res.destroy();
    return;
  }
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  // Headers an error carries for the caller: when to retry (429, 503), how to authenticate (401).
  for (const [name, value] of Object.entries(edgeHeaders(toConnectError(error)))) {
    res.setHeader(name, value);
  }
  if (error instanceof RestHttpError) {
    for (const [name, value] of Object.entries(error.headers)) {
      // HTTP/2 has no connection header (the stream ends on its own); HTTP/1.1 closes the socket.
      if (name === "connection" && "stream" in res) continue;
      res.setHeader(name, value);
    }
  }
  res.end(JSON.stringify(body));
}
