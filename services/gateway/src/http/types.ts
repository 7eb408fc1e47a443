import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Logger } from "@berth/platform";
import type { DescMethod, DescService, Registry } from "@bufbuild/protobuf";
import type { ContextValues, Interceptor, ServiceImpl } from "@connectrpc/connect";

/** One segment of a path template: a literal, `*` (one segment) or `**` (the rest of the path). */
export type TemplateSegment =
  | { readonly kind: "literal"; readonly value: string }
  | { readonly kind: "wildcard" }
  | { readonly kind: "deep" };

/** A template variable: the request field it sets and the segments [start, end) it captures. */
export interface TemplateVariable {
  readonly fieldPath: readonly string[];
  readonly start: number;
  readonly end: number;
}

/** A parsed google.api.http path template. */
export interface PathTemplate {
  readonly source: string;
  readonly segments: readonly TemplateSegment[];
  readonly variables: readonly TemplateVariable[];
  /** The custom verb after the last `:`, e.g. `start` in `/v1/instances/{id}:start`. */
  readonly verb: string | undefined;
}

/** One REST binding of an RPC, from its HttpRule or one of its additional_bindings. */
export interface Route {
  readonly service: DescService;
  readonly method: DescMethod;
  /** Upper-case HTTP method. */
  readonly httpMethod: string;
  readonly template: PathTemplate;
  /** "" (no body), "*" (the body is the request) or the name of a top-level request field. */
  readonly body: string;
  /** "" (the whole response) or the name of a top-level response field. */
  readonly responseBody: string;
}

/** What a route table answers for one request: a route with its path bindings, or why not. */
export type RouteMatch =
  | { readonly route: Route; readonly bindings: Readonly<Record<string, string>> }
  | { readonly status: 400; readonly message: string }
  | { readonly status: 404 }
  | { readonly status: 405; readonly allow: readonly string[] };

/** Every REST route of a set of services, matched by HTTP method and path. */
export interface RouteTable {
  readonly routes: readonly Route[];
  match(httpMethod: string, path: string): RouteMatch;
}

/** A service and the implementation that serves it (the same object served over Connect). */
export interface RestService {
  readonly service: DescService;
  // Any typed ServiceImpl: the handler calls methods by their local name, like the Connect router.
  // biome-ignore lint/suspicious/noExplicitAny: implementations of different services share one array.
  readonly impl: Partial<ServiceImpl<any>>;
}

/** Options of createRestHandler. */
export interface RestHandlerOptions {
  readonly services: readonly RestService[];
  /** Largest request body accepted; larger ones are answered 413 (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** The interceptors given to the Connect router, so that REST calls pass through them too. */
  readonly interceptors?: Interceptor[];
  /** Values an interceptor may read from the call (the client's address). */
  readonly contextValues?: (req: HttpRequest) => ContextValues;
  /** Resolves google.protobuf.Any in JSON (default: berthRegistry). */
  readonly registry?: Registry;
  readonly logger: Logger;
}

/** An incoming HTTP/1.1 or HTTP/2 request. */
export type HttpRequest = IncomingMessage | Http2ServerRequest;

/** The response of an HTTP/1.1 or HTTP/2 request. */
export type HttpResponse = ServerResponse | Http2ServerResponse;

/** A Node request handler; `next` is called for paths that no REST route knows. */
export type RestHandler = (req: HttpRequest, res: HttpResponse, next?: () => void) => void;

/** Options of createOnePortServer. */
export interface OnePortServerOptions {
  /** Serves every request, of either HTTP version. */
  readonly handle: (req: HttpRequest, res: HttpResponse) => void;
  /** How long close() waits for in-flight requests before cutting connections (default 10 s). */
  readonly closeTimeoutMs?: number;
  /** Connection limits (defaults in DEFAULT_LIMITS). */
  readonly limits?: {
    /** HTTP/1.1: time to receive a request's headers. */
    readonly headersTimeoutMs?: number;
    /** HTTP/1.1: time to receive a whole request (not its answer: streams may last). */
    readonly requestTimeoutMs?: number;
    /** HTTP/1.1: how long an idle keep-alive connection is kept. */
    readonly keepAliveTimeoutMs?: number;
    /** HTTP/2: how long a session without any frame is kept. */
    readonly http2IdleTimeoutMs?: number;
    /** Most open connections; more are refused. */
    readonly maxConnections?: number;
  };
  /** Called when close() gives up waiting: abort what is still running (RPC shutdown signals). */
  readonly onForceClose?: () => void;
  readonly logger: Logger;
}

/** One cleartext port serving Connect, gRPC-Web, gRPC (h2c) and REST. */
export interface OnePortServer {
  /** Listens on host (default 127.0.0.1); resolves with the actual port (useful with port 0). */
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, ends idle connections and waits for in-flight requests (bounded). */
  close(): Promise<void>;
}
