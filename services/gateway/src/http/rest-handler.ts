import { Code, ConnectError } from "@berth/platform";
import { berthRegistry } from "@berth/proto";
import { HOP_BY_HOP_HEADERS } from "@berth/spec";
import type { JsonValue, Message } from "@bufbuild/protobuf";
import {
  createHandlerContext,
  createServiceImplSpec,
  type MethodImplSpec,
} from "@connectrpc/connect";
import { transformInvokeImplementation } from "@connectrpc/connect/protocol";
import { DEFAULT_MAX_BODY_BYTES, readBody } from "./read-body.js";
import { RestHttpError, writeRestError } from "./rest-errors.js";
import { writeStream, writeUnary } from "./rest-response.js";
import { createRouteTable } from "./routes.js";
import { buildRequest, parseJsonBody } from "./transcode.js";
import type { HttpRequest, HttpResponse, RestHandler, RestHandlerOptions, Route } from "./types.js";

// Framing and hop-by-hop headers of the outer request: they describe this HTTP exchange, not the call.
const DROPPED_HEADERS = new Set([...HOP_BY_HOP_HEADERS, "content-type", "accept-encoding"]);
// The reason a finished call's signal fires with: one shared value, since an abort without a
// reason builds a DOMException (and its stack trace) on every call.
const CALL_OVER = new ConnectError("the call is over", Code.Canceled);

/**
 * Serves the google.api.http routes of the services by calling the same implementation objects
 * that the Connect router serves, through the same interceptors, so REST behaves like Connect.
 */
export function createRestHandler(options: RestHandlerOptions): RestHandler {
  const table = createRouteTable(options.services.map((s) => s.service));
  const specs = new Map<Route["method"], MethodImplSpec>();
  for (const { service, impl } of options.services) {
    const spec = createServiceImplSpec(service, impl);
    for (const method of service.methods) specs.set(method, spec.methods[method.localName]!);
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const registry = options.registry ?? berthRegistry;
  const { logger } = options;

  return (req, res, next) => {
    const url = req.url ?? "/";
    const queryStart = url.indexOf("?");
    const path = queryStart === -1 ? url : url.slice(0, queryStart);
    const found = table.match(req.method ?? "GET", path);
    if ("route" in found) {
      const spec = specs.get(found.route.method)!;
      serve(req, res, found.route, found.bindings, spec, url.slice(path.length)).catch((error) =>
        logger.error({ err: error }, "REST handler failed"),
      );
      return;
    }
    if (found.status === 404 && next) return next();
    const error =
      found.status === 400
        ? new ConnectError(found.message, Code.InvalidArgument)
        : found.status === 404
          ? new ConnectError(`no route for ${path}`, Code.NotFound)
          : new RestHttpError(405, Code.Unimplemented, `method ${req.method} is not allowed here`, {
              allow: found.allow.join(", "),
            });
    req.resume(); // An unread body would hold a keep-alive connection.
    writeRestError(res, error, logger, registry);
  };

  async function serve(
    req: HttpRequest,
    res: HttpResponse,
    route: Route,
    bindings: Readonly<Record<string, string>>,
    spec: MethodImplSpec,
    search: string,
  ): Promise<void> {
    const context = createHandlerContext({
      service: route.service,
      method: route.method,
      protocolName: "rest",
      requestMethod: route.httpMethod,
      url: `http://${req.headers.host ?? req.headers[":authority"] ?? "localhost"}${req.url ?? "/"}`,
      requestHeader: forwardedHeaders(req),
      ...(options.contextValues ? { contextValues: options.contextValues(req) } : {}),
    });
    // The client went away before the answer was complete: cancel the call and what it started.
    res.once("close", () => {
      if (!res.writableFinished)
        context.abort(new ConnectError("client disconnected", Code.Canceled));
    });
    try {
      const text = await readBody(req, maxBodyBytes);
      const body: JsonValue | undefined = text.trim() === "" ? undefined : parseJsonBody(text);
      const input = buildRequest(route, bindings, new URLSearchParams(search), body, registry);
      const outputs = transformInvokeImplementation(
        spec,
        context,
        options.interceptors ?? [],
      )(single(input));
      if (route.method.methodKind === "server_streaming") {
        await writeStream(res, route, context, outputs, registry, logger);
      } else {
        await writeUnary(res, route, context, outputs, registry);
      }
    } catch (error) {
      writeRestError(res, error, logger, registry);
    } finally {
      context.abort(CALL_OVER); // Like Connect: the call's signal fires once the call is over.
    }
  }
}

function forwardedHeaders(req: HttpRequest): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || DROPPED_HEADERS.has(name) || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

async function* single(message: Message): AsyncIterable<Message> {
  yield message;
}
