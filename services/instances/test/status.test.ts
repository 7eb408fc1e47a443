import { Code, ConnectError } from "@berth/platform";
import { InstanceStatus } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { useEngines } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEvents } from "../../../test/support/events.js";
import { publishStatus, query, type Stack, startStack, statusEnvelope, waitFor } from "./stack.js";

// The runtime's McpServerInstanceStatusChanged, published for real on JetStream: applied once,
// in order, and the second phase of delete.
describe("status reports from the runtime", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let stack: Stack;

  beforeAll(async () => {
    engines = await useEngines();
    stack = await startStack(engines, {}, { registry: false });
  });
  afterAll(async () => {
    await stack?.stop();
    await engines?.cleanup();
  });

  const createUrl = async (name: string) =>
    (
      await stack.instancesClient.createInstance({
        instance: { name, jsonSpec: { type: "url", endpoint: "http://127.0.0.1:9/mcp" } },
        secrets: { AUTH_TOKEN: `token-of-${name}` },
      })
    ).instance!;
  const get = async (id: string) => (await stack.instancesClient.getInstance({ id })).instance!;
  const settle = (id: string, check: (i: Awaited<ReturnType<typeof get>>) => boolean) =>
    waitFor(async () => check(await get(id)));

  it("applies reports in order: a lower sequence never overwrites a higher one", async () => {
    const instance = await createUrl("ordered");
    const report = (sequence: number, status: InstanceStatus, message: string) =>
      statusEnvelope({
        instanceId: instance.id,
        generation: 1n,
        sequence: BigInt(sequence),
        status,
        message,
      });
    await publishStatus(engines.natsUrl, [
      { envelope: report(1, InstanceStatus.STARTING, "starting") },
      { envelope: report(3, InstanceStatus.RUNNING, "healthy") },
      { envelope: report(2, InstanceStatus.UNHEALTHY, "late report") },
    ]);
    expect(await settle(instance.id, (i) => i.status === InstanceStatus.RUNNING)).toBe(true);
    // The late report has been consumed (the inbox holds all three) and changed nothing.
    expect(
      await waitFor(async () => {
        const rows = await query(engines.databaseUrl, "select 1 from instances.inbox");
        return rows.length >= 3;
      }),
    ).toBe(true);
    const after = await get(instance.id);
    expect(after).toMatchObject({ status: InstanceStatus.RUNNING, statusMessage: "healthy" });
    expect(after.statusTime).toBeDefined();
  });

  it("applies a redelivered event once, and JetStream drops a repeated message id", async () => {
    const instance = await createUrl("redelivered");
    const envelope = statusEnvelope({
      instanceId: instance.id,
      generation: 1n,
      sequence: 1n,
      status: InstanceStatus.STARTING,
    });
    // The same event under two message ids gets past JetStream's de-duplication: the inbox stops it.
    await publishStatus(engines.natsUrl, [
      { envelope },
      { envelope },
      { envelope, msgId: `${envelope.eventId}-again` },
    ]);
    const inbox = () =>
      query(engines.databaseUrl, "select event_id from instances.inbox where event_id = $1", [
        envelope.eventId,
      ]);
    expect(await settle(instance.id, (i) => i.status === InstanceStatus.STARTING)).toBe(true);
    const events = await readEvents(engines.natsUrl, "BERTH_RUNTIME", {
      until: (all) => all.filter((e) => e.envelope.eventId === envelope.eventId).length >= 2,
    });
    expect(events.filter((e) => e.envelope.eventId === envelope.eventId)).toHaveLength(2);
    expect(await waitFor(async () => (await inbox()).length === 1)).toBe(true);
  });

  it("ignores reports of an older generation after a restart", async () => {
    const instance = await createUrl("restarted");
    const { instance: restarted } = await stack.instancesClient.restartInstance({
      id: instance.id,
    });
    expect(restarted?.generation).toBe(2n);
    const reports = [
      statusEnvelope({
        instanceId: instance.id,
        generation: 2n,
        sequence: 1n,
        status: InstanceStatus.RUNNING,
      }),
      statusEnvelope({
        instanceId: instance.id,
        generation: 2n,
        sequence: 2n,
        status: InstanceStatus.UNHEALTHY,
        message: "probe failed",
      }),
      statusEnvelope({
        instanceId: instance.id,
        generation: 1n,
        sequence: 99n,
        status: InstanceStatus.FAILED,
      }),
    ];
    await publishStatus(
      engines.natsUrl,
      reports.map((envelope) => ({ envelope })),
    );
    const consumed = async () =>
      (
        await query(engines.databaseUrl, "select 1 from instances.inbox where event_id = any($1)", [
          reports.map((r) => r.eventId),
        ])
      ).length === 3;
    expect(await waitFor(consumed)).toBe(true);
    expect((await get(instance.id)).status).toBe(InstanceStatus.UNHEALTHY);
    expect((await get(instance.id)).statusMessage).toBe("probe failed");
  });

  it("deletes in two phases: DELETING at once, gone when the runtime reports removal", async () => {
    const instance = await createUrl("doomed");
    const first = await stack.instancesClient.deleteInstance({ id: instance.id });
    expect(first.instance?.status).toBe(InstanceStatus.DELETING);
    const again = await stack.instancesClient.deleteInstance({ id: "doomed" });
    expect(again.instance).toMatchObject({
      status: InstanceStatus.DELETING,
      revision: first.instance!.revision,
    });
    await expect(stack.instancesClient.startInstance({ id: instance.id })).rejects.toMatchObject({
      code: Code.FailedPrecondition,
    });

    const deleted = await readEvents(engines.natsUrl, "BERTH_INSTANCES", {
      until: (all) =>
        all.some(
          (e) =>
            e.subject === "berth.instances.instance.deleted" &&
            e.envelope.aggregateId === instance.id,
        ),
    });
    expect(
      deleted.filter(
        (e) =>
          e.subject === "berth.instances.instance.deleted" &&
          e.envelope.aggregateId === instance.id,
      ),
    ).toHaveLength(1);

    // A late health report does not undo the delete.
    await publishStatus(engines.natsUrl, [
      {
        envelope: statusEnvelope({
          instanceId: instance.id,
          generation: 1n,
          sequence: 5n,
          status: InstanceStatus.RUNNING,
        }),
      },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await get(instance.id)).status).toBe(InstanceStatus.DELETING);

    await publishStatus(engines.natsUrl, [
      {
        envelope: statusEnvelope({
          instanceId: instance.id,
          generation: 1n,
          sequence: 6n,
          status: InstanceStatus.STOPPED,
          removed: true,
        }),
      },
    ]);
    expect(
      await waitFor(async () => {
        const error = await get(instance.id).then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
        return error?.code === Code.NotFound;
      }),
    ).toBe(true);
    const leftovers = await query(
      engines.databaseUrl,
      "select (select count(*)::int from instances.instances where id = $1) as rows, (select count(*)::int from instances.instance_secrets where instance_id = $1) as secrets",
      [instance.id],
    );
    expect(leftovers).toEqual([{ rows: 0, secrets: 0 }]);
    await expect(stack.instancesClient.deleteInstance({ id: instance.id })).rejects.toMatchObject({
      code: Code.NotFound,
    });
  });

  it("streams the instance and its changes to a watcher until it is gone", async () => {
    const instance = await createUrl("watched");
    const seen: InstanceStatus[] = [];
    const watching = (async () => {
      for await (const message of stack.instancesClient.watchInstance(
        { id: "watched" },
        { timeoutMs: 20_000 },
      )) {
        seen.push(message.instance!.status);
      }
    })();
    expect(await waitFor(() => seen.length === 1)).toBe(true);
    await publishStatus(engines.natsUrl, [
      {
        envelope: statusEnvelope({
          instanceId: instance.id,
          generation: 1n,
          sequence: 1n,
          status: InstanceStatus.RUNNING,
        }),
      },
    ]);
    expect(await waitFor(() => seen.length === 2)).toBe(true);
    await stack.instancesClient.deleteInstance({ id: instance.id });
    // The watcher has seen DELETING before the runtime's removal report is sent.
    expect(await waitFor(() => seen.length === 3)).toBe(true);
    await publishStatus(engines.natsUrl, [
      {
        envelope: statusEnvelope({
          instanceId: instance.id,
          generation: 1n,
          sequence: 2n,
          status: InstanceStatus.STOPPED,
          removed: true,
        }),
      },
    ]);
    await watching; // the stream ends by itself once the instance is gone
    expect(seen).toEqual([
      InstanceStatus.PENDING,
      InstanceStatus.RUNNING,
      InstanceStatus.DELETING,
      InstanceStatus.DELETING,
    ]);
  });

  it("ends a watch when the client goes away", async () => {
    const instance = await createUrl("abandoned");
    const controller = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      for await (const message of stack.instancesClient.watchInstance(
        { id: instance.id },
        { signal: controller.signal },
      )) {
        seen.push(message.instance!.name);
      }
    })().catch((e: unknown) => ConnectError.from(e).code);
    expect(await waitFor(() => seen.length === 1)).toBe(true);
    controller.abort();
    expect(await watching).toBe(Code.Canceled);
    // The service is still healthy and serves new watches.
    const again = stack.instancesClient.watchInstance({ id: instance.id }, { timeoutMs: 2_000 });
    for await (const message of again) {
      expect(message.instance?.name).toBe("abandoned");
      break;
    }
  });
});
