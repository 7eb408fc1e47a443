import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createGuardedLookup } from "@berth/spec";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { testLogger } from "../../../test/support/mesh.js";
import type { UpstreamFailureCause } from "../src/mcp/forward.js";
import { createForwarder } from "../src/mcp/forward.js";
import type { McpProxyError } from "../src/mcp/types.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const listen = async (server: http.Server) => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

/**
 * An MCP-ish upstream on a real socket. `closesReusedSockets` makes it behave as a server whose
 * idle timeout fires just as a request arrives on a kept-alive socket (the race of issue 13, made
 * deterministic): the request is never read, the socket is closed under it. `hint` false sends
 * no `Keep-Alive: timeout=` (as Go and Python servers do).
 */
async function startUpstream(options: {
  keepAliveMs: number;
  hint: boolean;
  closesReusedSockets?: boolean;
}) {
  const state = { answered: 0, connections: 0, clientClosedAfterMs: [] as number[] };
  const requestsOn = new WeakMap<Socket, number>();
  const idleSince = new WeakMap<Socket, number>();
  const server = http.createServer((req, res) => {
    const n = (requestsOn.get(req.socket) ?? 0) + 1;
    requestsOn.set(req.socket, n);
    if (options.closesReusedSockets && n > 1) return void req.socket.destroy();
    req.resume();
    req.on("end", () => {
      state.answered++;
      res.setHeader("content-type", "application/json");
      if (!options.hint) res.setHeader("connection", "keep-alive"); // Node then adds no hint.
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
  });
  server.keepAliveTimeout = options.keepAliveMs;
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.once("finish", () => idleSince.set(req.socket, performance.now()));
  });
  server.on("connection", (socket: Socket) => {
    state.connections++;
    // "end" is the client's FIN: the client closed an idle socket before the server did.
    socket.once("end", () => {
      const since = idleSince.get(socket);
      if (since) state.clientClosedAfterMs.push(performance.now() - since);
    });
  });
  const url = `${await listen(server)}/mcp`;
  return {
    url,
    state,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("forwarding MCP to upstreams that close idle sockets (issue 13)", () => {
  let front: http.Server;
  let frontUrl: string;
  let upstreamUrl = "";
  const failures: McpProxyError[] = [];
  const causes: Array<UpstreamFailureCause | undefined> = [];
  const forwarder = createForwarder({ logger: testLogger("gateway"), maxBodyBytes: 1024 * 1024 });
  const upstreams: Array<{ stop(): Promise<void> }> = [];

  let instance = 0;

  beforeAll(async () => {
    front = http.createServer((req, res) => {
      // A new instance id per upstream: each instance has its own connection pool.
      const endpoint = {
        instanceId: `i${instance}`,
        url: upstreamUrl,
        headers: {},
        generation: 1n,
        // A remote upstream (a url instance): one that does not answer is a 502.
        driver: "url",
      };
      forwarder.forward(req, res, endpoint, {
        onResponse: () => undefined,
        onFailure: (error, cause) => {
          failures.push(error);
          causes.push(cause);
          res.statusCode = error.status;
          res.end();
        },
      });
    });
    frontUrl = await listen(front);
  });
  afterEach(() => {
    failures.length = 0;
    causes.length = 0;
    instance++;
  });
  afterAll(async () => {
    await forwarder.close();
    front?.closeAllConnections();
    await new Promise((resolve) => front?.close(resolve));
    for (const upstream of upstreams) await upstream.stop();
  });

  const call = async () => {
    const response = await fetch(`${frontUrl}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
    await response.arrayBuffer();
    return response.status;
  };

  it("retries a request whose reused socket was closed under it before it was read", async () => {
    const upstream = await startUpstream({
      keepAliveMs: 5_000,
      hint: false,
      closesReusedSockets: true,
    });
    upstreams.push(upstream);
    upstreamUrl = upstream.url;
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push(await call());
    expect(failures.map((f) => f.message)).toEqual([]);
    expect(statuses).toEqual(Array(10).fill(200));
    expect(upstream.state.answered).toBe(10); // Each call processed exactly once.
  });

  it("closes an idle socket before the upstream's announced keep-alive timeout", async () => {
    // Node announces `Keep-Alive: timeout=3`; the gateway must let go well before 3 s.
    const upstream = await startUpstream({ keepAliveMs: 3_000, hint: true });
    upstreams.push(upstream);
    upstreamUrl = upstream.url;
    expect(await call()).toBe(200);
    await sleep(2_500);
    expect(await call()).toBe(200);
    expect(upstream.state.connections).toBe(2);
    expect(upstream.state.clientClosedAfterMs.length).toBe(1);
    expect(upstream.state.clientClosedAfterMs[0]).toBeLessThan(3_000);
  });

  it("answers every call spaced around the keep-alive timeout of an upstream that gives no hint", async () => {
    const upstream = await startUpstream({ keepAliveMs: 200, hint: false });
    upstreams.push(upstream);
    upstreamUrl = upstream.url;
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      statuses.push(await call());
      await sleep(190 + i); // Before, at and after the upstream closes the idle socket.
    }
    expect(failures.map((f) => f.message)).toEqual([]);
    expect(statuses).toEqual(Array(20).fill(200));
    expect(upstream.state.answered).toBe(20);
  });

  it("reports why an upstream failed: the error code, the phase, whether the socket was reused", async () => {
    const upstream = await startUpstream({ keepAliveMs: 5_000, hint: true });
    upstreamUrl = upstream.url;
    expect(await call()).toBe(200);
    await upstream.stop();
    expect(await call()).toBe(502);
    // A connection that could not be made is tried three times (upstream-retry.ts) before the
    // one 502 and its one logged cause.
    expect(causes).toEqual([
      { code: "ECONNREFUSED", phase: "connect", reused: false, attempts: 3 },
    ]);
  });
});

describe("dialling url instances by name (issue 12, DNS rebinding)", () => {
  const failures: McpProxyError[] = [];
  // Loopback refused, as a deployment without BERTH_ALLOW_LOOPBACK_ENDPOINTS has it.
  const forwarder = createForwarder({
    logger: testLogger("gateway"),
    maxBodyBytes: 1024 * 1024,
    lookup: createGuardedLookup({ allowLoopback: false, allowPrivate: false }),
  });
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let front: http.Server;
  let frontUrl = "";
  let target = "";
  beforeAll(async () => {
    upstream = await startUpstream({ keepAliveMs: 5_000, hint: true });
    front = http.createServer((req, res) => {
      const endpoint = {
        instanceId: "rebound",
        url: target,
        headers: {},
        generation: 1n,
        driver: "url",
      };
      forwarder.forward(req, res, endpoint, {
        onResponse: () => undefined,
        onFailure: (error) => {
          failures.push(error);
          res.statusCode = error.status;
          res.end();
        },
      });
    });
    frontUrl = await listen(front);
  });
  afterAll(async () => {
    await forwarder.close();
    front?.closeAllConnections();
    await new Promise((resolve) => front?.close(resolve));
    await upstream?.stop();
  });
  const call = async () => {
    const response = await fetch(`${frontUrl}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
    await response.arrayBuffer();
    return response.status;
  };

  it("refuses a name that resolves to a forbidden address when it dials, not only when it was validated", async () => {
    // `localhost` stands for a name whose DNS answer changed to an inside address after the
    // instances service accepted it.
    target = upstream.url.replace("127.0.0.1", "localhost");
    expect(await call()).toBe(502);
    expect(failures).toHaveLength(1);
    expect(upstream.state.connections).toBe(0); // Nothing reached the inside address.
  });

  it("dials address literals (the runtime's own loopback endpoints) without the name policy", async () => {
    target = upstream.url;
    expect(await call()).toBe(200);
    expect(upstream.state.answered).toBe(1);
  });
});
