import { findFreePort, useEngines } from "@berth/testkit";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats, ensureStreams, streamConfig } from "../src/events/index.js";
import { StartupError } from "../src/service/startup-error.js";

describe("NATS connection and streams", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let nc: NatsConnection;

  beforeAll(async () => {
    engines = await useEngines();
    nc = await connectNats(engines.natsUrl, "nats-test");
  });
  afterAll(async () => {
    await nc?.drain();
    await engines?.cleanup();
  });

  it("reports an unreachable NATS_URL as one line, without credentials", async () => {
    const port = await findFreePort();
    const error = await connectNats(`nats://berth:hunter2-secret@127.0.0.1:${port}`, "x").catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(StartupError);
    expect(error.message).toBe(
      `NATS_URL: cannot connect to nats at 127.0.0.1:${port} (connection refused)`,
    );
    expect(error.message).not.toContain("hunter2-secret");
  });

  it("creates the producers' streams with file storage and a 10 minute duplicate window", async () => {
    await Promise.all([ensureStreams(nc), ensureStreams(nc)]); // two services starting at once
    const jsm = await jetstreamManager(nc);
    const expected = {
      BERTH_REGISTRY: ["berth.registry.>"],
      BERTH_INSTANCES: ["berth.instances.>"],
      BERTH_RUNTIME: ["berth.runtime.>"],
      BERTH_GATEWAY: ["berth.gateway.>"],
    };
    for (const [name, subjects] of Object.entries(expected)) {
      const { config } = await jsm.streams.info(name);
      expect(config.subjects).toEqual(subjects);
      expect(config.storage).toBe(StorageType.File);
      expect(config.duplicate_window).toBe(nanos(600_000));
    }
  });

  it("puts a drifted stream back to its definition and keeps its messages", async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.update("BERTH_RUNTIME", {
      ...streamConfig("BERTH_RUNTIME"),
      duplicate_window: nanos(1_000),
    });
    await nc
      .request("berth.runtime.instance.status_changed", new Uint8Array([1]))
      .catch(() => undefined);
    const before = (await jsm.streams.info("BERTH_RUNTIME")).state.messages;
    await ensureStreams(nc, ["BERTH_RUNTIME"]);
    const after = await jsm.streams.info("BERTH_RUNTIME");
    expect(after.config.duplicate_window).toBe(nanos(600_000));
    expect(after.state.messages).toBe(before);
    expect(before).toBe(1);
  });
});
