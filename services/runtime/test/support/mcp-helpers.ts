import { unpackPayload } from "@berth/platform";
import type { McpServerInstanceStatusChanged } from "@berth/proto/gen/berth/events/v1/events_pb";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { readEvents } from "../../../../test/support/events.js";
import { endpointFetch } from "../../src/health/endpoint-fetch.js";

/** An MCP SDK client connected (initialized) to a Streamable HTTP endpoint. */
export async function connectMcp(
  url: string,
  headers: Record<string, string> = {},
): Promise<Client> {
  // As the gateway does: an HTTP container's guard credential opens each connection.
  const connection = endpointFetch(headers);
  const client = new Client({ name: "berth-runtime-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: connection.headers },
    fetch: connection.fetch,
  });
  transport.onclose = () => void connection.close();
  await client.connect(transport, { timeout: 15_000 });
  return client;
}

/** The McpServerInstanceStatusChanged events of one instance on BERTH_RUNTIME, in order. */
export async function statusEvents(
  natsUrl: string,
  instanceId: string,
  until: (events: McpServerInstanceStatusChanged[]) => boolean = () => false,
  waitMs = 20_000,
): Promise<McpServerInstanceStatusChanged[]> {
  const mine = (all: Awaited<ReturnType<typeof readEvents>>) =>
    all
      .filter((e) => e.envelope.aggregateId === instanceId)
      .map((e) => unpackPayload(e.envelope) as McpServerInstanceStatusChanged);
  const events = await readEvents(natsUrl, "BERTH_RUNTIME", {
    waitMs,
    until: (all) => until(mine(all)),
  });
  return mine(events);
}
