import * as http from "node:http";
import type { Socket } from "node:net";
import { PassThrough } from "node:stream";
import {
  BRIDGE_CHANNEL_PATH,
  BRIDGE_CHANNEL_PROTOCOL,
  createFrameReader,
  createLogger,
  decodeHead,
  encodeFrame,
  encodeOpen,
  FrameType,
} from "@berth/platform";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type BridgeServer, createBridgeServer, prefersJson } from "./bridge-server.js";

const INSTANCE = "inst-1";
const SECRET = "a-secret-that-outlives-the-process";

/** A real MCP server (the official SDK) on a pair of in-memory stdio pipes. */
async function stdioServer() {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const mcp = new McpServer({ name: "bridge-test-server", version: "1.0.0" });
  mcp.registerTool("echo", { inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: "text", text }],
  }));
  mcp.registerTool("count", { inputSchema: { to: z.number() } }, async ({ to }, extra) => {
    for (let i = 1; i <= to; i++) {
      await extra.sendNotification({
        method: "notifications/progress",
        params: { progressToken: extra._meta?.progressToken ?? 0, progress: i, total: to },
      });
    }
    return { content: [{ type: "text", text: `counted to ${to}` }] };
  });
  mcp.registerTool("ask", { inputSchema: { question: z.string() } }, async ({ question }) => {
    const answer = await mcp.server.createMessage({
      messages: [{ role: "user", content: { type: "text", text: question } }],
      maxTokens: 10,
    });
    return {
      content: [{ type: "text", text: `told: ${(answer.content as { text: string }).text}` }],
    };
  });
  await mcp.connect(new StdioServerTransport(stdin, stdout));
  return { stdin, stdout, close: () => void mcp.close() };
}

const started: BridgeServer[] = [];
afterEach(async () => {
  for (const bridge of started.splice(0)) await bridge.close();
});

async function serve(port = 0) {
  const bridge = createBridgeServer({
    host: "127.0.0.1",
    port,
    logger: createLogger({ service: "test", level: "silent" }),
    secret: SECRET,
  });
  started.push(bridge);
  const bound = await bridge.listen();
  const attachment = bridge.attach(INSTANCE, await stdioServer());
  await attachment.ready;
  return { bridge, port: bound };
}

async function connect(bridge: BridgeServer, sessionId?: string) {
  const client = new Client(
    { name: "bridge-test", version: "1.0.0" },
    { capabilities: { sampling: {} } },
  );
  const transport = new StreamableHTTPClientTransport(new URL(bridge.url(INSTANCE)), {
    requestInit: { headers: bridge.headers() },
    ...(sessionId ? { sessionId } : {}),
  });
  await client.connect(transport);
  return { client, transport };
}

const text = (result: unknown) =>
  ((result as { content: Array<{ text: string }> }).content[0] as { text: string }).text;

describe("stdio bridge (lean Streamable HTTP over one shared server process)", () => {
  it("serves several sessions over one server, each getting its own answers", async () => {
    const { bridge } = await serve();
    const a = await connect(bridge);
    const b = await connect(bridge);
    expect(a.transport.sessionId).not.toBe(b.transport.sessionId);
    const calls = Array.from({ length: 20 }, (_, i) =>
      (i % 2 ? a : b).client.callTool({ name: "echo", arguments: { text: `m${i}` } }),
    );
    const answers = (await Promise.all(calls)).map(text);
    expect(answers).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    const tools = await a.client.listTools();
    expect(tools.tools.map((t) => t.name).sort()).toEqual(["ask", "count", "echo"]);
  });

  it("streams progress of a call to the caller, with the caller's own progress token", async () => {
    const { bridge } = await serve();
    const { client } = await connect(bridge);
    const seen: number[] = [];
    const result = await client.callTool({ name: "count", arguments: { to: 3 } }, undefined, {
      onprogress: (p) => seen.push(p.progress),
    });
    expect(text(result)).toBe("counted to 3");
    expect(seen).toEqual([1, 2, 3]);
  });

  it("routes a server's sampling request to the client whose call is in flight", async () => {
    const { bridge } = await serve();
    const { client } = await connect(bridge);
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: "assistant",
      model: "m",
      content: { type: "text", text: "forty-two" },
    }));
    const result = await client.callTool({ name: "ask", arguments: { question: "?" } });
    expect(text(result)).toBe("told: forty-two");
  });

  it("keeps a signed session across a new bridge process with the same secret", async () => {
    const first = await serve();
    const { client, transport } = await connect(first.bridge);
    const sessionId = transport.sessionId!;
    await first.bridge.close();
    started.splice(started.indexOf(first.bridge), 1);
    await client.close();
    const second = await serve(first.port);
    const again = await connect(second.bridge, sessionId);
    const answer = await again.client.callTool({ name: "echo", arguments: { text: "still" } });
    expect(text(answer)).toBe("still");
    expect(again.transport.sessionId).toBe(sessionId);
  });

  it("refuses wrong credentials, unknown and missing sessions, and ends a deleted session", async () => {
    const { bridge } = await serve();
    const post = (headers: Record<string, string>, body: unknown = {}) =>
      fetch(bridge.url(INSTANCE), {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...headers,
        },
        body: JSON.stringify(body),
      });
    const ping = { jsonrpc: "2.0", id: 1, method: "ping" };
    expect((await post({ authorization: "Bearer nope" }, ping)).status).toBe(401);
    expect((await post(bridge.headers(), ping)).status).toBe(400);
    const unknown = await post({ ...bridge.headers(), "mcp-session-id": "made.up" }, ping);
    expect(unknown.status).toBe(404);
    const notJson = await fetch(bridge.url(INSTANCE), {
      method: "POST",
      headers: {
        ...bridge.headers(),
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: "{",
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: number } }).error.code).toBe(-32700);

    const { transport } = await connect(bridge);
    const sessionId = transport.sessionId!;
    const answered = await post({ ...bridge.headers(), "mcp-session-id": sessionId }, ping);
    expect(answered.headers.get("content-type")).toBe("application/json");
    expect(await answered.json()).toEqual({ jsonrpc: "2.0", id: 1, result: {} });
    const streamed = await post(
      {
        ...bridge.headers(),
        "mcp-session-id": sessionId,
        accept: "text/event-stream, application/json",
      },
      { ...ping, id: 2 },
    );
    expect(streamed.headers.get("content-type")).toBe("text/event-stream");
    expect(await streamed.text()).toBe(
      `event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", id: 2, result: {} })}\n\n`,
    );
    await transport.terminateSession();
    const gone = await post({ ...bridge.headers(), "mcp-session-id": sessionId }, ping);
    expect(gone.status).toBe(404);
  });
});

/** A channel opened the way the gateway opens it; its exchanges collected frame by frame. */
async function openChannel(bridge: BridgeServer, authorization: string) {
  const url = new URL(bridge.url(INSTANCE));
  const upgrade = http.request({
    hostname: url.hostname,
    port: url.port,
    path: BRIDGE_CHANNEL_PATH,
    headers: { connection: "Upgrade", upgrade: BRIDGE_CHANNEL_PROTOCOL, authorization },
  });
  upgrade.end();
  const opened = await new Promise<{ status: number; socket?: Socket }>((resolve, reject) => {
    upgrade.once("upgrade", (_res, socket: Socket) => resolve({ status: 101, socket }));
    upgrade.once("response", (res) => resolve({ status: res.statusCode ?? 0 }));
    upgrade.once("error", reject);
  });
  const streams = new Map<
    number,
    { status?: number; headers?: Record<string, string>; body: string; ended?: string }
  >();
  const waiters: Array<() => void> = [];
  opened.socket?.on(
    "data",
    createFrameReader((type, id, payload) => {
      const stream = streams.get(id) ?? { body: "" };
      streams.set(id, stream);
      if (type === FrameType.head) Object.assign(stream, decodeHead(payload));
      if (type === FrameType.data) stream.body += payload.toString();
      if (type === FrameType.end) stream.ended = "end";
      if (type === FrameType.reset) stream.ended = "reset";
      for (const wake of waiters.splice(0)) wake();
    }),
  );
  const until = async (id: number, what: (s: { body: string; ended?: string }) => boolean) => {
    for (;;) {
      const stream = streams.get(id);
      if (stream && what(stream)) return stream;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  const post = (id: number, message: unknown, headers: Record<string, string> = {}) =>
    opened.socket!.write(
      encodeOpen(id, {
        method: "POST",
        path: new URL(bridge.url(INSTANCE)).pathname,
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...headers,
        },
        body: Buffer.from(JSON.stringify(message)),
      }),
    );
  return { status: opened.status, socket: opened.socket, post, until };
}

describe("the gateway's channel to the bridge", () => {
  it("opens only with the bridge's token and carries interleaved exchanges, events and resets", async () => {
    const { bridge } = await serve();
    expect((await openChannel(bridge, "Bearer nope")).status).toBe(401);
    const channel = await openChannel(bridge, bridge.headers().authorization!);
    expect(channel.status).toBe(101);

    channel.post(1, {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "t", version: "1" },
      },
    });
    const init = await channel.until(1, (s) => s.ended !== undefined);
    expect(init).toMatchObject({ status: 200, ended: "end" });
    const session = (init as { headers: Record<string, string> }).headers["mcp-session-id"]!;
    expect(session).toMatch(/\./);
    const call = (id: number, name: string, args: unknown, meta?: unknown) => ({
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
    });

    // A call that waits on the client (sampling), then two that answer while it waits.
    channel.post(2, call(1, "ask", { question: "?" }), { "mcp-session-id": session });
    const asked = await channel.until(2, (s) => s.body.includes("sampling/createMessage"));
    expect(asked.headers?.["content-type"]).toBe("text/event-stream");
    channel.post(3, call(2, "count", { to: 2 }, { progressToken: "p" }), {
      "mcp-session-id": session,
    });
    channel.post(4, call(3, "echo", { text: "hi" }), { "mcp-session-id": session });
    const echoed = await channel.until(4, (s) => s.ended !== undefined);
    expect(echoed.headers?.["content-type"]).toBe("application/json");
    expect(JSON.parse(echoed.body)).toMatchObject({ id: 3, result: { content: [{ text: "hi" }] } });
    const counted = await channel.until(3, (s) => s.ended !== undefined);
    expect(counted.body.match(/notifications\/progress/g)).toHaveLength(2);
    expect(counted.body).toContain('"progressToken":"p"');
    expect(counted.body).toContain("counted to 2");

    // The caller of the waiting call goes away: its stream ends, the session keeps serving.
    channel.socket!.write(encodeFrame(FrameType.reset, 2));
    channel.post(5, call(4, "echo", { text: "after" }), { "mcp-session-id": session });
    const after = await channel.until(5, (s) => s.ended !== undefined);
    expect(JSON.parse(after.body)).toMatchObject({
      id: 4,
      result: { content: [{ text: "after" }] },
    });

    // The same session over plain HTTP: the channel is another way to the same sessions.
    const viaHttp = await fetch(bridge.url(INSTANCE), {
      method: "POST",
      headers: {
        ...bridge.headers(),
        "mcp-session-id": session,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify(call(5, "echo", { text: "http" })),
    });
    expect(await viaHttp.json()).toMatchObject({ id: 5, result: { content: [{ text: "http" }] } });
    channel.socket!.destroy();
  });
});

describe("prefersJson", () => {
  it("reads the client's preference from Accept: q first, then the order written", () => {
    expect(prefersJson("application/json, text/event-stream")).toBe(true);
    expect(prefersJson("text/event-stream, application/json")).toBe(false);
    expect(prefersJson("text/event-stream;q=0.5, application/json")).toBe(true);
    expect(prefersJson("application/json;q=0.1, text/event-stream")).toBe(false);
    expect(prefersJson("application/json")).toBe(true);
    expect(prefersJson("text/event-stream")).toBe(false);
  });
});
