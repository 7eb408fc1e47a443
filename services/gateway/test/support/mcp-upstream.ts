import { type ChildProcess, spawn } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { findFreePort, waitForPort } from "@berth/testkit";

const ROOT = join(import.meta.dirname, "../../../..");

/**
 * A real MCP server: @modelcontextprotocol/server-everything over Streamable HTTP on loopback
 * (on the given port, e.g. to start it again where it was, or a free one).
 */
export async function startEverythingServer(
  port?: number,
): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  port ??= await findFreePort();
  const child: ChildProcess = spawn(
    join(ROOT, "node_modules/.bin/mcp-server-everything"),
    ["streamableHttp"],
    {
      env: { ...process.env, PORT: String(port) },
      stdio: "ignore",
    },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  if (!(await waitForPort(port, 20_000))) throw new Error("mcp-server-everything did not listen");
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A pass-through HTTP hop in front of the MCP server that records the request headers it sees:
 * what the gateway sends upstream. Streams both ways like any proxy.
 */
export async function startRecordingTap(target: string): Promise<{
  url: string;
  seen: http.IncomingHttpHeaders[];
  stop(): Promise<void>;
}> {
  const seen: http.IncomingHttpHeaders[] = [];
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    const headers = { ...req.headers, host: upstream.host };
    const forward = http.request(upstream, { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      res.flushHeaders();
      answer.pipe(res);
    });
    forward.on("error", () => res.destroy());
    res.on("close", () => forward.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    seen,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
