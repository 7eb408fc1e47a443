import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:net";
import { createGuardedLookup } from "@berth/spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeMcp } from "../src/health/mcp-probe.js";
import { type LocalMcpServer, startLocalMcpServer } from "./support/local-mcp-server.js";

// The runtime's health probe of a url instance dials names through the same guarded lookup as the
// gateway (issue 12, finding 6): a name whose DNS answer points inside is refused when it is
// dialled, even though the instances service accepted it earlier. `localhost` stands for such a
// name (its answer is 127.0.0.1 / ::1), under the policy of a deployment that refuses loopback.
describe("the url health probe resolves names through the guarded lookup", () => {
  const strict = createGuardedLookup({ allowLoopback: false, allowPrivate: false });
  let listener: Server;
  let dialled = 0;
  let port = 0;
  let server: LocalMcpServer;
  const header = { name: "x-probe", value: "yes" };

  beforeAll(async () => {
    listener = createServer((socket) => {
      dialled += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    port = (listener.address() as AddressInfo).port;
    server = await startLocalMcpServer(header);
  });
  afterAll(async () => {
    await new Promise((resolve) => listener?.close(resolve));
    await server?.close();
  });

  it("refuses a name that resolves to a loopback address, without connecting", async () => {
    const result = await probeMcp(`http://localhost:${port}/mcp`, {}, 5_000, { lookup: strict });
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.error).toContain("refused to connect: localhost resolves to");
    expect(dialled).toBe(0);
  });

  it("still probes address literals (the runtime's own loopback endpoints) under that policy", async () => {
    const result = await probeMcp(server.url, { [header.name]: header.value }, 5_000, {
      lookup: strict,
    });
    expect(result).toMatchObject({ ok: true, tools: [expect.objectContaining({ name: "shout" })] });
  });

  it("dials the name when the policy allows loopback", async () => {
    const allowing = createGuardedLookup({ allowLoopback: true, allowPrivate: false });
    const url = server.url.replace("127.0.0.1", "localhost");
    const result = await probeMcp(url, { [header.name]: header.value }, 5_000, {
      lookup: allowing,
    });
    expect(result.ok ? "ok" : result.error).toBe("ok");
  });
});
