import type { LookupFunction } from "node:net";
import { dialGuarded, splitGuard } from "@berth/platform";
import { isForbiddenAddressError } from "@berth/spec";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Agent, type Dispatcher, fetch as undiciFetch } from "undici";

/** One tool as the server described it. */
export interface ProbedTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: Record<string, unknown>;
}

/**
 * The outcome of one MCP health probe. `tools` is undefined when the server answered but asks
 * each user for their own credential (delegated credentials): it is up, its tools unknown here.
 */
export type ProbeResult = { ok: true; tools?: ProbedTool[] } | { ok: false; error: string };

const MAX_PAGES = 20;

/** A short reason for a failed probe, without headers or query strings (they may hold secrets). */
function describe(error: unknown, url: string): string {
  const where = (() => {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  })();
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  // The guarded lookup's refusal names the host and the address class, never a header.
  if (isForbiddenAddressError(cause)) return `refused to connect: ${cause.message}`;
  if (cause?.code === "ECONNREFUSED") return `connection refused at ${where}`;
  if (cause?.code) return `${cause.code} at ${where}`;
  const message = error instanceof Error ? error.message : String(error);
  return `${message.split("\n")[0]?.slice(0, 300)} (${where})`;
}

/**
 * The probe's connections: through an HTTP container's port guard (its credential opens each
 * connection and is never an HTTP header), or for url instances with the guarded lookup, so a
 * name that resolves to a forbidden address is refused when it is dialled.
 */
function dispatcherFor(guard: string | undefined, lookup: LookupFunction | undefined): Agent {
  if (guard !== undefined) {
    return new Agent({
      connect: (options, callback) => {
        const socket = dialGuarded(guard, {
          host: options.hostname,
          port: Number(options.port) || 80,
          noDelay: true,
        });
        let settled = false;
        const settle = (error: Error | null) => {
          if (settled) return;
          settled = true;
          socket.off("error", settle);
          if (error) callback(error, null);
          else callback(null, socket);
        };
        socket.once("connect", () => settle(null));
        socket.once("error", settle);
      },
    });
  }
  return new Agent(lookup ? { connect: { lookup } } : {});
}

/** A fetch for an endpoint the runtime hands out, and the HTTP headers to send with it. */
export interface EndpointFetch {
  /** The endpoint's headers without the guard credential (that opens each connection). */
  headers: Record<string, string>;
  fetch: (input: string | URL, init?: RequestInit) => Promise<Response>;
  /** Closes the connections. */
  close(): Promise<void>;
}

/**
 * How to talk to an endpoint the runtime hands out (what RuntimeService.ResolveEndpoint
 * answers): through an HTTP container's port guard, or with the guarded lookup for url names.
 */
export function endpointFetch(
  endpointHeaders: Record<string, string>,
  lookup?: LookupFunction,
): EndpointFetch {
  const { headers, guard } = splitGuard(endpointHeaders);
  const dispatcher: Dispatcher = dispatcherFor(guard, lookup);
  return {
    headers,
    fetch: ((input: string | URL, init?: RequestInit) =>
      undiciFetch(input, { ...(init as object), dispatcher })) as never,
    close: () => dispatcher.destroy().catch(() => undefined),
  };
}

/** Options of probeMcp. */
export interface ProbeOptions {
  /** Resolves url-instance host names (createGuardedLookup); address literals skip it. */
  lookup?: LookupFunction;
  /**
   * The server takes each user's own token (json_spec.delegation): a 401 answer means it is up
   * and asks the probe, which is nobody, to authenticate.
   */
  challengeIsHealthy?: boolean;
}

/**
 * Probes an MCP server over Streamable HTTP the way a client uses it: initialize, then
 * tools/list (every page), then ends its session. Bounded by timeoutMs as a whole.
 */
export async function probeMcp(
  url: string,
  endpointHeaders: Record<string, string>,
  timeoutMs: number,
  probeOptions: ProbeOptions = {},
): Promise<ProbeResult> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const connection = endpointFetch(endpointHeaders, probeOptions.lookup);
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: connection.headers, signal: abort.signal },
    fetch: connection.fetch,
  });
  const client = new Client({ name: "berth-health-probe", version: "0.1.0" });
  const options = { timeout: timeoutMs, signal: abort.signal };
  try {
    await client.connect(transport, options);
    const tools: ProbedTool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const result = await client.listTools(cursor ? { cursor } : {}, options);
      for (const tool of result.tools) {
        tools.push({
          name: tool.name,
          title: tool.title,
          description: tool.description,
          inputSchema: tool.inputSchema as Record<string, unknown>,
        });
      }
      cursor = result.nextCursor;
      if (!cursor) break;
    }
    return { ok: true, tools };
  } catch (error) {
    if (abort.signal.aborted) return { ok: false, error: `no answer within ${timeoutMs} ms` };
    if (
      probeOptions.challengeIsHealthy &&
      error instanceof StreamableHTTPError &&
      error.code === 401
    )
      return { ok: true };
    return { ok: false, error: describe(error, url) };
  } finally {
    clearTimeout(timer);
    await transport.terminateSession().catch(() => undefined);
    await client.close().catch(() => undefined);
    await connection.close();
  }
}
