import { describe, expect, it } from "vitest";
import type { RpcId, RpcMessage } from "./json-rpc.js";
import { createStdioMux } from "./stdio-mux.js";

/** A mux over a recorded upstream, with sessions that record what they receive. */
function setup() {
  const upstream: RpcMessage[] = [];
  const mux = createStdioMux({ send: (m) => upstream.push(m) });
  const open = () => {
    const got: Array<{ message: RpcMessage; related?: RpcId }> = [];
    const session = mux.openSession((message, related) => got.push({ message, related }));
    return { session, got };
  };
  const serverInfo = {
    protocolVersion: "2025-11-25",
    capabilities: { tools: {} },
    serverInfo: { name: "s", version: "1" },
  };
  const answerInitialize = () => {
    const init = upstream.find((m) => m.method === "initialize")!;
    mux.receive({ jsonrpc: "2.0", id: init.id, result: serverInfo });
  };
  return { upstream, mux, open, answerInitialize, serverInfo };
}

const request = (id: RpcId, method: string, params: Record<string, unknown> = {}): RpcMessage => ({
  jsonrpc: "2.0",
  id,
  method,
  params,
});
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("stdio mux", () => {
  it("initializes the server once and answers every client's initialize itself", async () => {
    const { upstream, open, answerInitialize, serverInfo } = setup();
    const a = open();
    const b = open();
    a.session.receive(request(0, "initialize", { protocolVersion: "2025-06-18" }));
    b.session.receive(request(0, "initialize", { protocolVersion: "1999-01-01" }));
    answerInitialize();
    await tick();
    a.session.receive({ jsonrpc: "2.0", method: "notifications/initialized" });
    expect(upstream.map((m) => m.method)).toEqual(["initialize", "notifications/initialized"]);
    expect(a.got[0]?.message.result).toEqual({ ...serverInfo, protocolVersion: "2025-06-18" });
    expect(b.got[0]?.message.result).toEqual(serverInfo);
  });

  it("routes answers, progress and server requests to the right client", async () => {
    const { upstream, mux, open } = setup();
    const a = open();
    const b = open();
    a.session.receive(request(7, "tools/call", { name: "slow", _meta: { progressToken: "pa" } }));
    b.session.receive(request(7, "tools/call", { name: "fast", _meta: { progressToken: "pb" } }));
    const [toA, toB] = upstream as [RpcMessage, RpcMessage];
    expect(toA.id).not.toBe(toB.id);
    expect(toA.params?._meta?.progressToken).toBe(toA.id);

    mux.receive({ jsonrpc: "2.0", id: toB.id, result: { content: "b" } });
    mux.receive({
      jsonrpc: "2.0",
      method: "notifications/progress",
      params: { progressToken: toA.id, progress: 1 },
    });
    expect(b.got).toEqual([
      { message: { jsonrpc: "2.0", id: 7, result: { content: "b" } }, related: 7 },
    ]);
    expect(a.got).toEqual([
      {
        message: {
          jsonrpc: "2.0",
          method: "notifications/progress",
          params: { progressToken: "pa", progress: 1 },
        },
        related: 7,
      },
    ]);

    // A's request is still in flight: the server's sampling request goes to A, on that stream.
    mux.receive(request(99, "sampling/createMessage"));
    expect(a.got[1]).toEqual({ message: request(99, "sampling/createMessage"), related: 7 });
    a.session.receive({ jsonrpc: "2.0", id: 99, result: { text: "sampled" } });
    b.session.receive({ jsonrpc: "2.0", id: 99, result: { text: "not yours" } });
    expect(upstream.filter((m) => m.id === 99)).toEqual([
      { jsonrpc: "2.0", id: 99, result: { text: "sampled" } },
    ]);

    mux.receive({ jsonrpc: "2.0", id: toA.id, result: { content: "a" } });
    expect(a.got[2]).toEqual({
      message: { jsonrpc: "2.0", id: 7, result: { content: "a" } },
      related: 7,
    });

    // Notifications without an owner go to every client; pings are answered by the bridge.
    mux.receive({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });
    expect(a.got.at(-1)?.message.method).toBe("notifications/tools/list_changed");
    expect(b.got.at(-1)?.message.method).toBe("notifications/tools/list_changed");
    mux.receive(request("p1", "ping"));
    expect(upstream.at(-1)).toEqual({ jsonrpc: "2.0", id: "p1", result: {} });
  });

  it("cancels a client's requests upstream by their rewritten id, also when it goes away", () => {
    const { upstream, open } = setup();
    const a = open();
    a.session.receive(request(1, "tools/call"));
    a.session.receive(request(2, "tools/call"));
    const [first, second] = upstream as [RpcMessage, RpcMessage];
    a.session.receive({
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: 1 },
    });
    expect(upstream[2]).toEqual({
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: first.id },
    });
    a.session.close();
    expect(upstream[3]).toMatchObject({
      method: "notifications/cancelled",
      params: { requestId: second.id },
    });
  });

  it("fails open requests and refuses new ones once the server is gone", () => {
    const { open, mux } = setup();
    const a = open();
    a.session.receive(request("x", "tools/list"));
    mux.close("the MCP server process ended");
    expect(a.got[0]?.message).toEqual({
      jsonrpc: "2.0",
      id: "x",
      error: { code: -32000, message: "the MCP server process ended" },
    });
    expect(mux.sessionCount).toBe(0);
  });
});
