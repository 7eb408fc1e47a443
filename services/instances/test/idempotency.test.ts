import { randomUUID } from "node:crypto";
import { Code, ConnectError, fieldViolationsOf } from "@berth/platform";
import { DesiredState } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { useEngines } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEvents } from "../../../test/support/events.js";
import { query, type Stack, startStack } from "./stack.js";

// AIP-155 request ids: a client whose answer was lost retries with the same id and gets the
// first call's result back; nothing is written twice, whatever happened to the service between.
describe("idempotent writes", () => {
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

  const urlInstance = (name: string, endpoint = "https://mcp.example.com/mcp") => ({
    name,
    jsonSpec: { type: "url", endpoint },
  });
  const refusal = async (call: Promise<unknown>) => {
    const error = await call.then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error, "the call should have been refused").toBeDefined();
    return error!;
  };
  /** The instances events of one aggregate, once a later marker instance's event is published. */
  const eventsOf = async (id: string) => {
    const marker = (
      await stack.instancesClient.createInstance({
        instance: urlInstance(`marker-${randomUUID().slice(0, 8)}`),
      })
    ).instance!;
    const all = await readEvents(engines.natsUrl, "BERTH_INSTANCES", {
      until: (events) => events.some((e) => e.envelope.aggregateId === marker.id),
    });
    return all.filter((e) => e.envelope.aggregateId === id);
  };

  it("a create retried with its request id returns the original instance and creates one", async () => {
    const requestId = randomUUID();
    const request = { instance: urlInstance("retried"), secrets: {}, requestId };
    const first = (await stack.instancesClient.createInstance(request)).instance!;
    const retry = (await stack.instancesClient.createInstance(request)).instance!;
    expect(retry).toEqual(first);
    expect(retry.revision).toBe(1n);

    const rows = await query(
      engines.databaseUrl,
      `select id from instances.instances where name = $1`,
      ["retried"],
    );
    expect(rows).toEqual([{ id: first.id }]);
    const events = await eventsOf(first.id);
    expect(events.map((e) => e.subject)).toEqual(["berth.instances.instance.created"]);

    // Without a request id the same create is someone else's: ALREADY_EXISTS as before.
    const other = await refusal(
      stack.instancesClient.createInstance({ instance: urlInstance("retried") }),
    );
    expect(other.code).toBe(Code.AlreadyExists);
  });

  it("refuses the same request id with a different request, naming request_id", async () => {
    const requestId = randomUUID();
    await stack.instancesClient.createInstance({ instance: urlInstance("first-body"), requestId });
    const error = await refusal(
      stack.instancesClient.createInstance({ instance: urlInstance("second-body"), requestId }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(fieldViolationsOf(error).map((v) => v.field)).toEqual(["request_id"]);
    expect(error.rawMessage).toMatch(/different request/);
    // The same id on another method is a different request too.
    const elsewhere = await refusal(
      stack.instancesClient.stopInstance({ id: "first-body", requestId }),
    );
    expect(fieldViolationsOf(elsewhere).map((v) => v.field)).toEqual(["request_id"]);
    const rows = await query(
      engines.databaseUrl,
      `select name from instances.instances where name = $1`,
      ["second-body"],
    );
    expect(rows).toEqual([]);
  });

  it("refuses a request id that is not a UUID, naming request_id", async () => {
    const error = await refusal(
      stack.instancesClient.createInstance({
        instance: urlInstance("bad-id"),
        requestId: "retry-1",
      }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(fieldViolationsOf(error).map((v) => v.field)).toEqual(["request_id"]);
    expect(
      await query(engines.databaseUrl, `select id from instances.instances where name = 'bad-id'`),
    ).toEqual([]);
  });

  it("a restart retried with its request id restarts once", async () => {
    const created = (
      await stack.instancesClient.createInstance({ instance: urlInstance("restart-once") })
    ).instance!;
    const requestId = randomUUID();
    const first = (await stack.instancesClient.restartInstance({ id: created.id, requestId }))
      .instance!;
    const retry = (await stack.instancesClient.restartInstance({ id: created.id, requestId }))
      .instance!;
    expect(first.generation).toBe(2n);
    expect(retry).toEqual(first);
    const fresh = (await stack.instancesClient.getInstance({ id: created.id })).instance!;
    expect(fresh.generation).toBe(2n);
    const events = await eventsOf(created.id);
    expect(events.map((e) => e.subject)).toEqual([
      "berth.instances.instance.created",
      "berth.instances.instance.started",
    ]);
  });

  it("answers a retry after the service restarted (the request id committed with the write)", async () => {
    const requestId = randomUUID();
    const request = {
      instance: { ...urlInstance("survives"), desiredState: DesiredState.STOPPED },
      requestId,
    };
    const first = (await stack.instancesClient.createInstance(request)).instance!;
    await stack.restartInstances();
    const retry = (await stack.instancesClient.createInstance(request)).instance!;
    expect(retry).toEqual(first);
    const stored = await query<{ method: string }>(
      engines.databaseUrl,
      `select method from instances.request_ids where request_id = $1`,
      [requestId],
    );
    expect(stored).toEqual([{ method: "berth.instances.v1.InstancesService/CreateInstance" }]);
  });

  it("concurrent calls with one request id create one instance and all get it", async () => {
    const requestId = randomUUID();
    const request = { instance: urlInstance("concurrent"), requestId };
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => stack.instancesClient.createInstance(request)),
    );
    const ids = new Set(answers.map((a) => a.instance!.id));
    expect(ids.size).toBe(1);
    const rows = await query(
      engines.databaseUrl,
      `select id from instances.instances where name = 'concurrent'`,
    );
    expect(rows).toHaveLength(1);
  });

  it("a failed call records nothing: its retry runs again", async () => {
    const requestId = randomUUID();
    const missing = await refusal(
      stack.instancesClient.stopInstance({ id: "not-there", requestId }),
    );
    expect(missing.code).toBe(Code.NotFound);
    await stack.instancesClient.createInstance({ instance: urlInstance("not-there") });
    const stopped = (await stack.instancesClient.stopInstance({ id: "not-there", requestId }))
      .instance!;
    expect(stopped.desiredState).toBe(DesiredState.STOPPED);
  });
});
