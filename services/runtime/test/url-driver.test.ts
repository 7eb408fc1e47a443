import { McpServerInstanceCreatedSchema } from "@berth/proto/gen/berth/events/v1/events_pb";
import { WorkloadState } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { useEngines } from "@berth/testkit";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../src/index.js";
import { deadPort, type LocalMcpServer, startLocalMcpServer } from "./support/local-mcp-server.js";
import { connectMcp } from "./support/mcp-helpers.js";
import {
  createPublisher,
  type EventPublisher,
  instanceSnapshot,
  newRunId,
  removeLeftovers,
  runtimeClient,
  runtimeTestEnv,
  startTestRuntime,
  waitFor,
} from "./support/runtime-harness.js";

describe("url driver: remote MCP servers are watched, not run", () => {
  const runId = newRunId();
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let runtime: Runtime;
  let publisher: EventPublisher;
  let client: ReturnType<typeof runtimeClient>;
  let server: LocalMcpServer;

  const reaches = (instanceId: string, state: WorkloadState) =>
    waitFor(
      `state ${WorkloadState[state]}`,
      async () => {
        const { workload } = await client.getWorkload({ instanceId });
        return workload?.state === state ? workload : undefined;
      },
      40_000,
    );

  beforeAll(async () => {
    engines = await useEngines();
    server = await startLocalMcpServer({ name: "x-api-key", value: "k-123" });
    runtime = await startTestRuntime(runtimeTestEnv(engines, runId));
    publisher = await createPublisher(engines.natsUrl);
    client = runtimeClient(runtime.port);
  });
  afterAll(async () => {
    await publisher?.close();
    await runtime?.stop();
    await server?.close();
    await removeLeftovers(runId);
    await engines?.cleanup();
  });

  it("becomes RUNNING against a real local MCP server, with its headers attached", async () => {
    const instance = instanceSnapshot({
      spec: {
        type: "url",
        endpoint: server.url,
        headers: { "x-api-key": "k-123" },
        health_check: { interval: 1, timeout: 3 },
      },
    });
    await publisher.publish(
      McpServerInstanceCreatedSchema,
      create(McpServerInstanceCreatedSchema, { instance }),
      1,
      instance.id,
    );
    const workload = await reaches(instance.id, WorkloadState.RUNNING);
    expect(workload).toMatchObject({ driver: "url", endpoint: server.url, containerId: "" });
    const { tools } = await client.listInstanceTools({ instanceId: instance.id });
    expect(tools.map((t) => t.name)).toEqual(["shout"]);
    const endpoint = await client.resolveEndpoint({ instanceId: instance.id });
    expect(endpoint).toMatchObject({
      url: server.url,
      headers: { "x-api-key": "k-123" },
      driver: "url",
    });
    const mcp = await connectMcp(endpoint.url, endpoint.headers);
    const result = await mcp.callTool({ name: "shout", arguments: { text: "quiet" } });
    expect(result.content).toEqual([{ type: "text", text: "QUIET" }]);
    await mcp.close();
    expect(server.refused).toBe(0);
  });

  it("becomes UNHEALTHY when nothing answers at the URL", async () => {
    const url = `http://127.0.0.1:${await deadPort()}/mcp`;
    const instance = instanceSnapshot({
      spec: { type: "url", endpoint: url, health_check: { interval: 1, timeout: 2 } },
    });
    await publisher.publish(
      McpServerInstanceCreatedSchema,
      create(McpServerInstanceCreatedSchema, { instance }),
      1,
      instance.id,
    );
    const workload = await reaches(instance.id, WorkloadState.UNHEALTHY);
    expect(workload.message).toBe(`MCP health probe failing: connection refused at ${url}`);
  });

  it("refuses logs for url workloads and names the field of a bad request", async () => {
    const { workloads } = await client.listWorkloads({ pageSize: 1 });
    expect(workloads).toHaveLength(1);
    const page = await client.listWorkloads({ pageSize: 1 });
    expect(page.nextPageToken).not.toBe("");
    const rest = await client.listWorkloads({ pageSize: 10, pageToken: page.nextPageToken });
    expect(rest.workloads.map((w) => w.instanceId)).not.toContain(workloads[0]!.instanceId);
    await expect(client.getWorkload({ instanceId: "" })).rejects.toThrow(
      /instance_id: is required/,
    );
    const logs = async () => {
      for await (const _ of client.streamLogs({ instanceId: workloads[0]!.instanceId })) void _;
    };
    await expect(logs()).rejects.toThrow(/has no container logs/);
  });
});
