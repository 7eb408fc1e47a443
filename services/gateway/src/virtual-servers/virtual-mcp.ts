import { randomUUID } from "node:crypto";
import * as http from "node:http";
import * as https from "node:https";
import type { LookupFunction } from "node:net";
import type { Logger } from "@berth/platform";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { type ClientCapabilities, isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { clientAddressOf } from "../auth/client-address.js";
import { fromNodeHeaders } from "../auth/credential.js";
import type { Gatekeeper, Principal } from "../auth/types.js";
import type { HttpRequest, HttpResponse } from "../http/types.js";
import { toProxyError, writeJsonRpcError } from "../mcp/json-rpc-error.js";
import { type InstanceResolver, McpProxyError } from "../mcp/types.js";
import { mcpAccess } from "../teams/team-access.js";
import type { MemberCredentials } from "./member-link.js";
import { createNodeFetch } from "./node-fetch.js";
import type { VirtualServerRow } from "./virtual-server-entity.js";
import type { VirtualServerStore } from "./virtual-server-store.js";
import {
  createVirtualSession,
  type VirtualCallEvent,
  type VirtualSession,
  type VirtualTimeouts,
} from "./virtual-session.js";

/** Options of createVirtualMcp. */
export interface VirtualMcpOptions {
  store: Pick<VirtualServerStore, "find">;
  resolver: InstanceResolver;
  gatekeeper: Gatekeeper;
  /** DNS-rebinding protection, as on /mcp/{instance}. */
  guard: (headers: HttpRequest["headers"]) => McpProxyError | undefined;
  /** Sessions the key holds on /mcp/{instance}, counted with its virtual ones against the cap. */
  instanceSessionsOfKey: (keyId: string) => number;
  maxSessionsPerKey: number;
  maxSessionsPerVirtualServer: number;
  maxBodyBytes: number;
  /** Dial-time address policy for url members (createGuardedLookup). */
  lookup?: LookupFunction;
  timeouts?: Partial<VirtualTimeouts>;
  /** A session unused this long is ended (its member sessions too). */
  idleMs?: number;
  /** Every call through a virtual server, for the audit trail and metrics. */
  onCall?: (event: VirtualCallEvent) => void;
  logger: Logger;
  /** Told each time a member is used (the idle policy's clock). */
  touch?: (instanceId: string) => void;
  /** The caller's own upstream credential for a member, as on /mcp/{instance} (delegation). */
  credentials?: MemberCredentials["credentials"];
  /** A member's upstream refused it (401): renewed, or the error to answer. */
  reauthorize?: MemberCredentials["reauthorize"];
}

/** /mcp/v/{virtual server}: a request handler, change notices, and shutdown. */
export interface VirtualMcp {
  handle(req: HttpRequest, res: HttpResponse): void;
  /** A virtual server changed or was deleted: its sessions follow (or end). */
  changed(id: string): void;
  close(): Promise<void>;
}

/** The path prefix of virtual servers in the front door's table. */
export const VIRTUAL_MCP_PREFIX = "/mcp/v/";
const METHODS = ["POST", "GET", "DELETE"];
const REF = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$|^[0-9a-f-]{36}$/i;
const DEFAULT_TIMEOUTS: VirtualTimeouts = {
  connectMs: 10_000,
  listMs: 10_000,
  callMs: 60_000,
  maxCallMs: 10 * 60_000,
};

interface Entry {
  session: VirtualSession;
  transport: StreamableHTTPServerTransport;
  keyId: string;
  /** The virtual server's name (immutable): the path may name it by id or name. */
  name: string;
  used: number;
}

/**
 * The virtual servers' MCP endpoint: a stateful Streamable HTTP server per downstream session
 * (the SDK's transport and low-level Server), each with its own SDK Clients of the members. Same
 * door as /mcp/{instance}: Origin/Host guard, the mcp scope, the key's grants, body and session
 * caps. A session belongs to the key that opened it.
 */
export function createVirtualMcp(options: VirtualMcpOptions): VirtualMcp {
  const { logger } = options;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const idleMs = options.idleMs ?? 60 * 60_000;
  const sessions = new Map<string, Entry>();
  const agents = {
    http: new http.Agent({ keepAlive: true, timeout: 4_000, maxSockets: 256 }),
    https: new https.Agent({ keepAlive: true, timeout: 4_000, maxSockets: 256 }),
  };
  const fetch = createNodeFetch(options.lookup, agents);
  const open = new Set<HttpResponse>();

  const end = (id: string) => {
    const entry = sessions.get(id);
    if (!entry) return;
    sessions.delete(id);
    void entry.transport.close().catch(() => undefined);
    void entry.session.close();
  };
  const sweeper = setInterval(
    () => {
      const now = Date.now();
      for (const [id, entry] of sessions) if (entry.used + idleMs <= now) end(id);
    },
    Math.min(idleMs, 60_000),
  );
  sweeper.unref();

  const count = (predicate: (entry: Entry) => boolean) => {
    let n = 0;
    for (const entry of sessions.values()) if (predicate(entry)) n++;
    return n;
  };

  const handle = (req: HttpRequest, res: HttpResponse) => {
    open.add(res);
    res.once("close", () => open.delete(res));
    serve(req, res).catch((error: unknown) => {
      const failure = toProxyError(error);
      if (failure.status >= 500 && !(error instanceof McpProxyError))
        logger.error({ err: error }, "virtual MCP server failed");
      if (failure.status !== 413) req.resume();
      writeJsonRpcError(res, failure);
    });
  };

  return {
    handle,
    changed(id) {
      void options.store.find(id).then(
        (row) => {
          for (const [sessionId, entry] of sessions) {
            if (entry.session.virtualServerId !== id) continue;
            if (row) entry.session.refresh();
            else end(sessionId);
          }
        },
        (error: unknown) => logger.warn({ err: error }, "virtual server change not applied"),
      );
    },
    async close() {
      clearInterval(sweeper);
      for (const res of open) res.destroy();
      await Promise.allSettled([...sessions.keys()].map(end));
      agents.http.destroy();
      agents.https.destroy();
    },
  };

  async function serve(req: HttpRequest, res: HttpResponse): Promise<void> {
    const refused = options.guard(req.headers);
    if (refused) throw refused;
    const ref = refOf(req.url ?? "/");
    if (!METHODS.includes(req.method ?? "")) {
      throw new McpProxyError(
        405,
        `method ${req.method} is not allowed on ${VIRTUAL_MCP_PREFIX}{virtual server}`,
        {
          allow: METHODS.join(", "),
        },
      );
    }
    if (Number(req.headers["content-length"] ?? 0) > options.maxBodyBytes)
      throw tooLarge(options.maxBodyBytes);
    const principal = await options.gatekeeper(
      fromNodeHeaders(req.headers),
      "mcp",
      clientAddressOf(req),
      (req.url ?? "/").split("?")[0],
    );
    const header = req.headers["mcp-session-id"];
    const sessionId = typeof header === "string" ? header : undefined;
    const body = req.method === "POST" ? await readJson(req, options.maxBodyBytes) : undefined;

    if (sessionId !== undefined) {
      const entry = sessions.get(sessionId);
      // Another key's session, or another virtual server's, is as unknown as an ended one.
      const here = entry && (ref === entry.name || ref === entry.session.virtualServerId);
      if (!entry || !here || entry.keyId !== principal.keyId) {
        throw new McpProxyError(404, "session not found: initialize a new one");
      }
      entry.used = Date.now();
      await entry.transport.handleRequest(req as never, res as never, body);
      return;
    }

    if (req.method !== "POST") throw new McpProxyError(400, "mcp-session-id is required");
    if (!isInitializeRequest(body)) {
      throw new McpProxyError(400, "the first request of a session must be initialize");
    }
    const vs = await visibleTo(principal, ref);
    checkCaps(principal.keyId, vs);
    const grant = grantOf(principal, vs.id);
    const session = await createVirtualSession({
      initial: vs,
      definition: async () => (await options.store.find(vs.id)) ?? undefined,
      keyId: principal.keyId,
      toolGrant: grant ?? [],
      clientCapabilities: (body.params.capabilities ?? {}) as ClientCapabilities,
      resolver: options.resolver,
      fetch,
      timeouts,
      logger,
      ...(options.onCall ? { onCall: options.onCall } : {}),
      ...(options.touch ? { touch: options.touch } : {}),
      ...(options.credentials
        ? {
            memberCredentials: {
              principal,
              credentials: options.credentials,
              ...(options.reauthorize ? { reauthorize: options.reauthorize } : {}),
            },
          }
        : {}),
    });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => {
        sessions.set(id, {
          session,
          transport,
          keyId: principal.keyId,
          name: vs.name,
          used: Date.now(),
        });
      },
      onsessionclosed: (id) => end(id),
    });
    transport.onclose = () => {
      if (transport.sessionId) end(transport.sessionId);
      else void session.close();
    };
    await session.server.connect(transport);
    await transport.handleRequest(req as never, res as never, body);
  }

  /** The virtual server, if the key may use it; a limited key learns nothing about others. */
  async function visibleTo(principal: Principal, ref: string): Promise<VirtualServerRow> {
    const vs = await options.store.find(ref);
    const access = vs ? mcpAccess(principal, vs.team) : "hidden";
    // Another team's virtual server is as unknown as a missing one.
    if (!vs || access === "hidden")
      throw new McpProxyError(404, `virtual server ${JSON.stringify(ref)} not found`);
    if (access === "denied") {
      throw new McpProxyError(
        403,
        `the ${principal.teams.get(vs.team)} role may not call MCP tools`,
      );
    }
    if (grantOf(principal, vs.id) === null)
      throw new McpProxyError(403, `the API key may not use virtual server ${JSON.stringify(ref)}`);
    return vs;
  }

  function checkCaps(keyId: string, vs: VirtualServerRow): void {
    const retry = { "retry-after": "60" };
    const held = options.instanceSessionsOfKey(keyId) + count((e) => e.keyId === keyId);
    if (held >= options.maxSessionsPerKey) {
      throw new McpProxyError(
        429,
        `the API key holds ${options.maxSessionsPerKey} MCP sessions, the most allowed: end one (DELETE) first`,
        retry,
      );
    }
    if (count((e) => e.session.virtualServerId === vs.id) >= options.maxSessionsPerVirtualServer) {
      throw new McpProxyError(
        429,
        `virtual server ${JSON.stringify(vs.name)} has ${options.maxSessionsPerVirtualServer} MCP sessions, the most allowed`,
        retry,
      );
    }
  }
}

/**
 * The tool patterns a key may use on a virtual server: an empty list allows every tool, null
 * refuses the virtual server. Keys without grants may use every virtual server unless they are
 * limited to instances (a limited key never reaches other instances through a virtual server).
 */
export function grantOf(principal: Principal, virtualServerId: string): readonly string[] | null {
  const grants = principal.virtualServers ?? [];
  if (grants.length === 0) return principal.instances.length === 0 ? [] : null;
  const mine = grants.filter((g) => g.virtualServer === virtualServerId);
  if (mine.length === 0) return null;
  // Several grants of one virtual server add up; any grant without tools allows them all.
  return mine.some((g) => g.tools.length === 0) ? [] : mine.flatMap((g) => g.tools);
}

function refOf(url: string): string {
  const raw = (url.split("?")[0] ?? "").slice(VIRTUAL_MCP_PREFIX.length);
  let ref = "";
  try {
    ref = decodeURIComponent(raw);
  } catch {}
  if (raw.includes("/") || !REF.test(ref)) {
    throw new McpProxyError(404, "no MCP endpoint here: use /mcp/v/{virtual server id or name}");
  }
  return ref;
}

function tooLarge(limit: number): McpProxyError {
  return new McpProxyError(413, `request body exceeds ${limit} bytes`, { connection: "close" });
}

/** The request body as JSON, at most `limit` bytes; 400 when it is not JSON. */
function readJson(req: HttpRequest, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        req.off("data", onData);
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("error", () => reject(new McpProxyError(400, "the request body was cut short")));
    req.once("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        reject(new McpProxyError(400, "Parse error: the body is not JSON"));
      }
    });
  });
}
