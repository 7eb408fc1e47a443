import type { LookupFunction } from "node:net";
import { isForbiddenAddressError } from "@berth/spec";

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

/** What a probe is made of: the MCP SDK's client over Streamable HTTP, and undici. */
async function importClient() {
  const [client, transport, connection] = await Promise.all([
    import("@modelcontextprotocol/sdk/client/index.js"),
    import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
    import("./endpoint-fetch.js"),
  ]);
  return {
    Client: client.Client,
    StreamableHTTPClientTransport: transport.StreamableHTTPClientTransport,
    StreamableHTTPError: transport.StreamableHTTPError,
    endpointFetch: connection.endpointFetch,
  };
}

let clientModules: ReturnType<typeof importClient> | undefined;

/**
 * Loads the probe's modules on the first probe, not when the runtime starts: a runtime with
 * nothing to manage never needs them, and they are about 10 MiB of its resident memory.
 */
function loadClient(): ReturnType<typeof importClient> {
  clientModules ??= importClient().catch((error: unknown) => {
    clientModules = undefined; // the next probe tries again
    throw error;
  });
  return clientModules;
}

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
  const { Client, StreamableHTTPClientTransport, StreamableHTTPError, endpointFetch } =
    await loadClient();
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
