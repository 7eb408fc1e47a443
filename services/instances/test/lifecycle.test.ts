import { Code, fieldViolationsOf } from "@berth/platform";
import {
  type McpServerInstanceStarted,
  McpServerInstanceStartedSchema,
  type McpServerInstanceUpdated,
  McpServerInstanceUpdatedSchema,
} from "@berth/proto/gen/berth/events/v1/events_pb";
import { DesiredState, InstanceStatus } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { useEngines } from "@berth/testkit";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ReadEvent, readEvents } from "../../../test/support/events.js";
import { type Stack, startStack } from "./stack.js";

// Desired state, generations and the events the runtime acts on; listing with filters and pages.
describe("instance lifecycle", () => {
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

  const createUrl = async (name: string, desiredState = DesiredState.UNSPECIFIED) =>
    (
      await stack.instancesClient.createInstance({
        instance: {
          name,
          desiredState,
          jsonSpec: { type: "url", endpoint: "https://mcp.example.com/mcp" },
        },
      })
    ).instance!;
  const eventsOf = async (id: string, count: number): Promise<ReadEvent[]> => {
    const mine = (all: ReadEvent[]) => all.filter((e) => e.envelope.aggregateId === id);
    return mine(
      await readEvents(engines.natsUrl, "BERTH_INSTANCES", {
        until: (all) => mine(all).length >= count,
      }),
    );
  };

  it("start, stop and restart set the desired state and emit Started / Stopped", async () => {
    const created = await createUrl("cycle", DesiredState.STOPPED);
    expect(created.desiredState).toBe(DesiredState.STOPPED);
    const started = (await stack.instancesClient.startInstance({ id: created.id })).instance!;
    expect(started).toMatchObject({
      desiredState: DesiredState.RUNNING,
      generation: 1n,
      revision: 2n,
    });
    // Starting a running instance changes nothing and says nothing.
    const again = (await stack.instancesClient.startInstance({ id: "cycle" })).instance!;
    expect(again.revision).toBe(2n);
    const stopped = (await stack.instancesClient.stopInstance({ id: created.id })).instance!;
    expect(stopped).toMatchObject({ desiredState: DesiredState.STOPPED, revision: 3n });
    const restarted = (await stack.instancesClient.restartInstance({ id: created.id })).instance!;
    expect(restarted).toMatchObject({
      desiredState: DesiredState.RUNNING,
      generation: 2n,
      revision: 4n,
    });

    const events = await eventsOf(created.id, 4);
    expect(events.map((e) => e.subject)).toEqual([
      "berth.instances.instance.created",
      "berth.instances.instance.started",
      "berth.instances.instance.stopped",
      "berth.instances.instance.started",
    ]);
    expect(events.map((e) => e.envelope.aggregateVersion)).toEqual([1n, 2n, 3n, 4n]);
    const last = anyUnpack(
      events[3]!.envelope.payload!,
      McpServerInstanceStartedSchema,
    ) as McpServerInstanceStarted;
    expect(last.instance).toMatchObject({ generation: 2n, desiredState: DesiredState.RUNNING });
  });

  it("a spec change bumps the generation and emits Updated; other changes do not bump it", async () => {
    const created = await createUrl("respec");
    const described = await stack.instancesClient.updateInstance({
      instance: { id: created.id, description: "the weather", revision: 1n },
      updateMask: { paths: ["description"] },
    });
    expect(described.instance).toMatchObject({
      description: "the weather",
      generation: 1n,
      revision: 2n,
    });
    const respecced = await stack.instancesClient.updateInstance({
      instance: {
        id: created.id,
        jsonSpec: { type: "url", endpoint: "https://other.example.com/mcp" },
      },
      updateMask: { paths: ["json_spec"] },
    });
    expect(respecced.instance).toMatchObject({ generation: 2n, revision: 3n });
    // The same spec again is no change at all.
    const same = await stack.instancesClient.updateInstance({
      instance: {
        id: created.id,
        jsonSpec: { type: "url", endpoint: "https://other.example.com/mcp" },
      },
      updateMask: { paths: ["json_spec"] },
    });
    expect(same.instance).toMatchObject({ generation: 2n, revision: 3n });

    const events = await eventsOf(created.id, 3);
    const updates = events
      .filter((e) => e.subject === "berth.instances.instance.updated")
      .map(
        (e) =>
          anyUnpack(
            e.envelope.payload!,
            McpServerInstanceUpdatedSchema,
          ) as McpServerInstanceUpdated,
      );
    expect(updates.map((u) => [u.changedFields, u.instance?.generation])).toEqual([
      [["description"], 1n],
      [["json_spec"], 2n],
    ]);
  });

  it("refuses unknown instances and bad ids with the right codes", async () => {
    // One call at a time: a promise made before it is awaited could reject unobserved.
    for (const call of [
      () => stack.instancesClient.getInstance({ id: "nobody" }),
      () => stack.instancesClient.stopInstance({ id: "00000000-0000-4000-8000-000000000000" }),
      () => stack.instancesClient.deleteInstance({ id: "nobody" }),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: Code.NotFound });
    }
  });

  it("lists with filters and pages through every instance once", async () => {
    for (const name of ["page-a", "page-b", "page-c", "page-d", "page-e"]) await createUrl(name);
    await stack.instancesClient.stopInstance({ id: "page-b" });
    await stack.instancesClient.stopInstance({ id: "page-d" });
    const stopped = await stack.instancesClient.listInstances({
      desiredState: DesiredState.STOPPED,
    });
    expect(stopped.instances.map((i) => i.name).filter((n) => n.startsWith("page-"))).toEqual([
      "page-b",
      "page-d",
    ]);

    const names: string[] = [];
    let pageToken = "";
    for (let page = 0; page < 20; page += 1) {
      const result = await stack.instancesClient.listInstances({
        pageSize: 2,
        pageToken,
        status: InstanceStatus.PENDING,
      });
      expect(result.instances.length).toBeLessThanOrEqual(2);
      names.push(...result.instances.map((i) => i.name));
      pageToken = result.nextPageToken;
      if (!pageToken) break;
    }
    expect(names.filter((n) => n.startsWith("page-"))).toEqual([
      "page-a",
      "page-b",
      "page-c",
      "page-d",
      "page-e",
    ]);
    expect(new Set(names).size).toBe(names.length);

    const bad = await stack.instancesClient
      .listInstances({ pageToken: "garbage", serverId: "weather", pageSize: -1 })
      .catch((e: unknown) => e);
    expect(
      fieldViolationsOf(bad as never)
        .map((v) => v.field)
        .sort(),
    ).toEqual(["page_size", "page_token", "server_id"]);
  });
});
