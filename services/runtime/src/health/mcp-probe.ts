import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

/** One tool as the server described it. */
export interface ProbedTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: Record<string, unknown>;
}

/** The outcome of one MCP health probe. */
export type ProbeResult = { ok: true; tools: ProbedTool[] } | { ok: false; error: string };

const MAX_PAGES = 20;

/** A short reason for a failed probe, without headers or query strings (they may hold secrets). */
function describe(error: unknown, url: string): string {
  const where = (() => {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  })();
  const cause = (error as { cause?: { code?: string } }).cause;
  if (cause?.code === "ECONNREFUSED") return `connection refused at ${where}`;
  if (cause?.code) return `${cause.code} at ${where}`;
  const message = error instanceof Error ? error.message : String(error);
  return `${message.split("\n")[0]?.slice(0, 300)} (${where})`;
}

/**
 * Probes an MCP server over Streamable HTTP the way a client uses it: initialize, then
 * tools/list (every page), then ends its session. Bounded by timeoutMs as a whole.
 */
export async function probeMcp(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<ProbeResult> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers, signal: abort.signal },
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
    return { ok: false, error: describe(error, url) };
  } finally {
    clearTimeout(timer);
    await transport.terminateSession().catch(() => undefined);
    await client.close().catch(() => undefined);
  }
}
