import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { findFreePort, isPortListening, waitForPort } from "./free-port.js";

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

describe("free ports", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
  });

  it("finds a port that can be bound on 127.0.0.1", async () => {
    const port = await findFreePort();
    expect(port).toBeGreaterThan(0);
    servers.push(await listen(port));
  });

  it("tells a listening port from a free one", async () => {
    const port = await findFreePort();
    expect(await isPortListening(port)).toBe(false);
    servers.push(await listen(port));
    expect(await isPortListening(port)).toBe(true);
  });

  it("waits for a port that starts listening later, and gives up on one that never does", async () => {
    const late = await findFreePort();
    setTimeout(() => listen(late).then((s) => servers.push(s)), 300);
    expect(await waitForPort(late, 5_000)).toBe(true);
    const never = await findFreePort();
    expect(await waitForPort(never, 400)).toBe(false);
  });
});
