import { rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineStartError, findFreePort, type NatsHandle, startNats } from "../src/index.js";
import { makeTempDir } from "./temp-dir.js";

describe("startNats", () => {
  let root: string;
  const running: NatsHandle[] = [];
  beforeAll(async () => {
    root = await makeTempDir("berth-nats-test-");
  });
  afterAll(async () => {
    for (const server of running) await server.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("serves JetStream and keeps streams in its store across a restart", async () => {
    const storeDir = join(root, "store");
    const first = await startNats({ storeDir });
    running.push(first);
    let nc = await connect({ servers: first.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "KEPT", subjects: ["kept.>"] });
    const ack = await jetstream(nc).publish("kept.one", "hello");
    expect(ack.stream).toBe("KEPT");
    await nc.close();
    await first.stop();

    const second = await startNats({ storeDir });
    running.push(second);
    nc = await connect({ servers: second.url });
    const message = await (await jetstreamManager(nc)).streams.getMessage("KEPT", { seq: ack.seq });
    expect(message?.string()).toBe("hello");
    await nc.close();
  });

  it("stops: the port no longer accepts clients", async () => {
    const server = await startNats({ storeDir: join(root, "stopped") });
    running.push(server);
    await server.stop();
    await expect(
      connect({ servers: server.url, reconnect: false, timeout: 1_000 }),
    ).rejects.toThrow();
  });

  it("says so when its port is taken", async () => {
    const port = await findFreePort();
    const blocker: Server = await new Promise((done) => {
      const s = createServer().listen(port, "127.0.0.1", () => done(s));
    });
    try {
      const started = startNats({ storeDir: join(root, "busy"), port });
      await expect(started).rejects.toThrow(EngineStartError);
      await expect(started).rejects.toThrow(`port ${port}`);
    } finally {
      await new Promise((done) => blocker.close(done));
    }
  });
});
