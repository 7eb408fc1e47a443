import type { Logger } from "@berth/platform";
import { DEFAULT_TEAM } from "@berth/spec";
import {
  type McpCallSink,
  type McpExchangeTap,
  tapMcpExchange,
} from "../audit/mcp-exchange-tap.js";
import { clientAddressOf } from "../auth/client-address.js";
import { fromNodeHeaders } from "../auth/credential.js";
import type { Gatekeeper, Principal } from "../auth/types.js";
import type { HttpRequest, HttpResponse } from "../http/types.js";
import { mcpAccess } from "../teams/team-access.js";
import type { ActivityReporter } from "./activity-reporter.js";
import type { Forwarder } from "./forward.js";
import { toProxyError, writeJsonRpcError } from "./json-rpc-error.js";
import type { SessionPins } from "./session-pins.js";
import {
  type InstanceIdentity,
  type InstanceResolver,
  type McpEndpoint,
  McpProxyError,
} from "./types.js";

/** Options of createMcpProxy. */
export interface McpProxyOptions {
  resolver: InstanceResolver;
  gatekeeper: Gatekeeper;
  pins: SessionPins;
  forwarder: Forwarder;
  /** DNS-rebinding protection: the 403 for a foreign Origin or Host, checked before anything. */
  guard: (headers: HttpRequest["headers"]) => McpProxyError | undefined;
  /** Most live sessions one key may hold, and one instance may have. */
  maxSessionsPerKey: number;
  maxSessionsPerInstance: number;
  maxBodyBytes: number;
  logger: Logger;
  /** Told of every JSON-RPC call once answered (audit trail, metrics); never argument values. */
  onCall?: McpCallSink;
  /** The idle policy's clock: told of each request and of each exchange while it is open. */
  activity?: ActivityReporter;
  /**
   * The caller's own upstream credential (delegated credentials): the endpoint to forward this
   * caller's request to. Applied per request, after session pinning, so a pinned endpoint never
   * holds one user's token for another.
   */
  credentials?: (
    principal: Principal,
    instance: InstanceIdentity,
    endpoint: McpEndpoint,
  ) => Promise<McpEndpoint>;
  /**
   * The upstream refused the caller's own credential (401): the endpoint to try once more, or
   * the error to answer (DelegatedCredentials.reauthorize). Never the upstream's challenge.
   */
  reauthorize?: (
    principal: Principal,
    instance: InstanceIdentity,
    sent: McpEndpoint,
  ) => Promise<McpEndpoint>;
}

/** The MCP proxy: a request handler, and a way to end its open streams on shutdown. */
export interface McpProxy {
  /** Serves a request for /mcp or /mcp/{instance}. */
  handle(req: HttpRequest, res: HttpResponse): void;
  close(): void;
}

const PREFIX = "/mcp/";
const METHODS = ["POST", "GET", "DELETE"];
// Instance ids (UUIDs) and names; anything else cannot name an instance.
const INSTANCE_REF = /^[A-Za-z0-9][A-Za-z0-9._~@:-]{0,254}$/;

/**
 * `/mcp/{instance}` (id or name): MCP Streamable HTTP to the instance's endpoint. Needs the mcp
 * scope (and the instance on the key's allow-list, when it has one).
 */
export function createMcpProxy(options: McpProxyOptions): McpProxy {
  const { resolver, pins, logger } = options;
  const open = new Set<HttpResponse>();
  const handle = (req: HttpRequest, res: HttpResponse) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    open.add(res);
    res.once("close", () => open.delete(res));
    const tap = options.onCall && tapMcpExchange(req, res, options.onCall, options.maxBodyBytes);
    serve(req, res, path, tap).catch((error) => {
      const failure = toProxyError(error);
      tap?.failed(failure.status);
      if (failure.status >= 500 && !(error instanceof McpProxyError))
        logger.error({ err: error }, "MCP proxy failed");
      answerError(req, res, failure);
    });
  };
  // Event streams never end by themselves: a stopping gateway ends them instead of waiting.
  const close = () => {
    for (const res of open) res.destroy();
    void options.forwarder.close();
  };
  return { handle, close };

  async function serve(
    req: HttpRequest,
    res: HttpResponse,
    path: string,
    tap: McpExchangeTap | undefined,
  ): Promise<void> {
    const refused = options.guard(req.headers);
    if (refused) throw refused;
    const ref = instanceRef(path);
    if (!METHODS.includes(req.method ?? "")) {
      throw new McpProxyError(405, `method ${req.method} is not allowed on ${PREFIX}{instance}`, {
        allow: METHODS.join(", "),
      });
    }
    const length = Number(req.headers["content-length"] ?? 0);
    if (length > options.maxBodyBytes) {
      throw new McpProxyError(413, `request body exceeds ${options.maxBodyBytes} bytes`, {
        connection: "close",
      });
    }
    const principal = await options.gatekeeper(
      fromNodeHeaders(req.headers),
      "mcp",
      clientAddressOf(req),
      (req.url ?? "/").split("?")[0],
    );
    tap?.attribute(principal.keyId);
    const instance = await identifyFor(principal, ref);
    tap?.attribute(principal.keyId, instance);
    const sessionId = req.headers["mcp-session-id"];
    const session = typeof sessionId === "string" ? sessionId : undefined;
    // Traffic keeps the instance awake, counted from before a wake-up so that the woken
    // instance is not put back to sleep while this request is on its way.
    options.activity?.touch(instance.id);
    const release = options.activity?.open(instance.id);
    if (release) res.once("close", release);
    // Resolved every time (cached), so that a stopped instance answers "not running" at once;
    // an idle one is woken here (the request waits for its server, or 503 with Retry-After).
    const current = await resolver.endpoint(instance);
    const pinned = session ? pins.get(instance.id, session) : undefined;
    const endpoint = pinned ?? current;
    // A request without a session may open one (initialize): refused beyond the caps.
    if (!session && req.method === "POST") checkSessionCaps(principal.keyId, instance);
    const upstream = options.credentials
      ? await options.credentials(principal, instance, endpoint)
      : endpoint;
    tap?.forwarding();
    // Only a delegated call (the hook added the caller's own token) is asked again on a 401.
    const reauthorize = upstream !== endpoint ? options.reauthorize : undefined;
    options.forwarder.forward(req, res, upstream, {
      ...(reauthorize ? { onUnauthorized: () => reauthorize(principal, instance, upstream) } : {}),
      onResponse(status, answeredSession) {
        const ended = (req.method === "DELETE" && status < 300) || status === 404;
        if (session && ended) pins.delete(instance.id, session);
        // A session pinned already (every call after initialize) was refreshed by pins.get.
        else if (answeredSession && status < 300 && !(pinned && answeredSession === session))
          pins.set(answeredSession, endpoint, principal.keyId);
      },
      onFailure(error, cause) {
        resolver.invalidate(instance.id);
        tap?.failed(error.status);
        if (session) pins.delete(instance.id, session);
        // The cause (code, phase, reused socket), never a body or a header value.
        logger.warn(
          { instance_id: instance.id, status: error.status, ...cause },
          "MCP upstream failed",
        );
        answerError(req, res, error);
      },
    });
  }

  function checkSessionCaps(keyId: string, instance: InstanceIdentity): void {
    const retry = { "retry-after": "60" };
    if (pins.countForKey(keyId) >= options.maxSessionsPerKey) {
      throw new McpProxyError(
        429,
        `the API key holds ${options.maxSessionsPerKey} MCP sessions, the most allowed: end one (DELETE) first`,
        retry,
      );
    }
    if (pins.countForInstance(instance.id) >= options.maxSessionsPerInstance) {
      throw new McpProxyError(
        429,
        `instance ${JSON.stringify(instance.name)} has ${options.maxSessionsPerInstance} MCP sessions, the most allowed`,
        retry,
      );
    }
  }

  /**
   * The instance, if the key may use it; a limited key learns nothing about other instances.
   * Allow-lists hold instance ids (names were resolved when the key was created), so an instance
   * that later takes a listed instance's name is not on the list.
   */
  async function identifyFor(principal: Principal, ref: string): Promise<InstanceIdentity> {
    const found = await identifyInTeams(principal, ref);
    if (principal.instances.length === 0) return found;
    const denied = () =>
      new McpProxyError(403, `the API key may not use instance ${JSON.stringify(ref)}`);
    if (!principal.instances.includes(found.id)) throw denied();
    return found;
  }

  /** The instance, if it belongs to one of the caller's teams (404 otherwise: names do not leak). */
  async function identifyInTeams(principal: Principal, ref: string): Promise<InstanceIdentity> {
    let instance: InstanceIdentity;
    try {
      instance = await resolver.identify(ref);
    } catch (error) {
      // A limited key learns nothing about instances off its list, not even that none exists.
      if (principal.instances.length > 0 && error instanceof McpProxyError && error.status === 404)
        throw new McpProxyError(403, `the API key may not use instance ${JSON.stringify(ref)}`);
      throw error;
    }
    const access = mcpAccess(principal, instance.team ?? DEFAULT_TEAM);
    if (access === "hidden")
      throw new McpProxyError(404, `instance ${JSON.stringify(ref)} not found`);
    if (access === "denied") {
      throw new McpProxyError(
        403,
        `the ${principal.teams.get(instance.team ?? DEFAULT_TEAM)} role may not call MCP tools`,
      );
    }
    return instance;
  }
}

function instanceRef(path: string): string {
  const raw = path.slice(PREFIX.length);
  let ref: string;
  try {
    ref = decodeURIComponent(raw);
  } catch {
    ref = "";
  }
  if (raw.includes("/") || !INSTANCE_REF.test(ref)) {
    throw new McpProxyError(404, "no MCP endpoint here: use /mcp/{instance id or name}");
  }
  return ref;
}

function answerError(req: HttpRequest, res: HttpResponse, error: McpProxyError): void {
  // An unread body would hold a keep-alive connection; a too-large one closes it instead.
  if (error.status !== 413) req.resume();
  const headers = "stream" in res ? withoutConnection(error) : error;
  writeJsonRpcError(res, headers);
}

function withoutConnection(error: McpProxyError): McpProxyError {
  const { connection: _, ...headers } = error.headers;
  return new McpProxyError(error.status, error.message, headers);
}
