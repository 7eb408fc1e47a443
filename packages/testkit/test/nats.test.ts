import { rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BERTH_NATS_SERVICES,
  berthNatsUsers,
  EngineStartError,
  findFreePort,
  type NatsHandle,
  startNats,
} from "../src/index.js";
import { makeTempDir } from "./temp-dir.js";

const passwords = Object.fromEntries(
  BERTH_NATS_SERVICES.map((service) => [service, `${service}-password-0123456789`]),
) as Record<(typeof BERTH_NATS_SERVICES)[number], string>;
const admin = { user: "admin", password: "admin-password-0123456789" };
const users = berthNatsUsers(passwords, admin);
const as = (url: string, user: string, pass: string) =>
  connect({ servers: url, reconnect: false, timeout: 2_000, user, pass });

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
    const first = await startNats({ storeDir, users });
    running.push(first);
    let nc = await as(first.url, admin.user, admin.password);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "KEPT", subjects: ["kept.>"] });
    const ack = await jetstream(nc).publish("kept.one", "hello");
    expect(ack.stream).toBe("KEPT");
    await nc.close();
    await first.stop();

    const second = await startNats({ storeDir, users });
    running.push(second);
    nc = await as(second.url, admin.user, admin.password);
    const message = await (await jetstreamManager(nc)).streams.getMessage("KEPT", { seq: ack.seq });
    expect(message?.string()).toBe("hello");
    await nc.close();
  });

  it("refuses a client without a user, or with a wrong password", async () => {
    const server = await startNats({ storeDir: join(root, "locked"), users });
    running.push(server);
    await expect(
      connect({ servers: server.url, reconnect: false, timeout: 2_000 }),
    ).rejects.toThrow(/Authorization/i);
    await expect(as(server.url, "gateway", "not-the-password")).rejects.toThrow(/Authorization/i);
  });

  it("lets only the instances service publish instance events", async () => {
    const server = await startNats({ storeDir: join(root, "permissions"), users });
    running.push(server);
    const adminNc = await as(server.url, admin.user, admin.password);
    await (await jetstreamManager(adminNc)).streams.add({
      name: "BERTH_INSTANCES",
      subjects: ["berth.instances.>"],
    });
    // The runtime listens the way it consumes: everything on berth.instances.>.
    const runtime = await as(server.url, "runtime", passwords.runtime);
    const seen: string[] = [];
    const sub = runtime.subscribe("berth.instances.>", {
      callback: (_e, m) => {
        seen.push(m.string());
      },
    });

    const gateway = await as(server.url, "gateway", passwords.gateway);
    const refused = (async () => {
      for await (const status of gateway.status()) {
        if (status.type === "error") return String((status as { error?: unknown }).error);
      }
      return "";
    })();
    // A forged event: JetStream never acknowledges it, and the server reports the violation.
    await expect(
      jetstream(gateway).publish("berth.instances.instance.created", "forged", { timeout: 1_000 }),
    ).rejects.toThrow();
    expect(await refused).toMatch(/Permissions Violation for Publish to "berth.instances/);

    const instances = await as(server.url, "instances", passwords.instances);
    const ack = await jetstream(instances).publish("berth.instances.instance.created", "genuine");
    await runtime.flush();
    expect(seen).toEqual(["genuine"]);
    const stored = await (await jetstreamManager(adminNc)).streams.info("BERTH_INSTANCES");
    expect(stored.state.messages).toBe(1);
    expect(ack.seq).toBe(1);
    // Nor may the runtime publish as the instances service.
    await expect(
      jetstream(runtime).publish("berth.instances.instance.created", "forged", { timeout: 1_000 }),
    ).rejects.toThrow();
    sub.unsubscribe();
    for (const nc of [adminNc, runtime, gateway, instances]) await nc.close();
  });

  it("keeps one service off another's streams and durable consumers (JetStream API)", async () => {
    const server = await startNats({ storeDir: join(root, "jetstream-api"), users });
    running.push(server);
    // As the services do at start: each ensures the streams and its own durable consumer.
    const runtime = await as(server.url, "runtime", passwords.runtime);
    const instances = await as(server.url, "instances", passwords.instances);
    const registry = await as(server.url, "registry", passwords.registry);
    const runtimeJsm = await jetstreamManager(runtime);
    await runtimeJsm.streams.add({ name: "BERTH_INSTANCES", subjects: ["berth.instances.>"] });
    await runtimeJsm.streams.add({ name: "BERTH_RUNTIME", subjects: ["berth.runtime.>"] });
    const durable = (name: string) => ({ durable_name: name, ack_policy: AckPolicy.Explicit });
    await runtimeJsm.consumers.add("BERTH_INSTANCES", durable("runtime-instances"));
    const instancesJsm = await jetstreamManager(instances);
    await instancesJsm.consumers.add("BERTH_RUNTIME", durable("instances-status"));
    await (await jetstreamManager(registry)).consumers.add(
      "BERTH_INSTANCES",
      durable("registry-instance-usage"),
    );
    await jetstream(instances).publish("berth.instances.instance.created", "genuine");

    // The runtime's credential: neither delete nor purge the instances stream, nor read, delete
    // or re-create the instances service's or the registry's consumers.
    const quick = { timeout: 1_000 };
    await expect(runtimeJsm.streams.delete("BERTH_INSTANCES")).rejects.toThrow();
    await expect(runtimeJsm.streams.purge("BERTH_INSTANCES")).rejects.toThrow();
    await expect(runtimeJsm.streams.deleteMessage("BERTH_INSTANCES", 1)).rejects.toThrow();
    await expect(
      runtimeJsm.consumers.delete("BERTH_RUNTIME", "instances-status"),
    ).rejects.toThrow();
    await expect(
      runtimeJsm.consumers.delete("BERTH_INSTANCES", "registry-instance-usage"),
    ).rejects.toThrow();
    await expect(
      runtime.request(
        "$JS.API.CONSUMER.MSG.NEXT.BERTH_INSTANCES.registry-instance-usage",
        "",
        quick,
      ),
    ).rejects.toThrow();
    await expect(
      runtimeJsm.consumers.add("BERTH_RUNTIME", durable("instances-status")),
    ).rejects.toThrow();

    // Nothing was lost: the stream, its message and both consumers are intact.
    const adminJsm = await jetstreamManager(await as(server.url, admin.user, admin.password));
    expect((await adminJsm.streams.info("BERTH_INSTANCES")).state.messages).toBe(1);
    expect((await adminJsm.consumers.info("BERTH_RUNTIME", "instances-status")).name).toBe(
      "instances-status",
    );
    const usage = await adminJsm.consumers.info("BERTH_INSTANCES", "registry-instance-usage");
    expect(usage.num_pending).toBe(1);

    // Its own consumer still works: it reads the event and acknowledges it.
    const own = await jetstream(runtime).consumers.get("BERTH_INSTANCES", "runtime-instances");
    const message = await own.next({ expires: 2_000 });
    expect(message?.string()).toBe("genuine");
    await message?.ackAck();
    for (const nc of [runtime, instances, registry]) await nc.close();
  });

  it("stops: the port no longer accepts clients", async () => {
    const server = await startNats({ storeDir: join(root, "stopped"), users });
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
      const started = startNats({ storeDir: join(root, "busy"), port, users });
      await expect(started).rejects.toThrow(EngineStartError);
      await expect(started).rejects.toThrow(`port ${port}`);
    } finally {
      await new Promise((done) => blocker.close(done));
    }
  });
});
