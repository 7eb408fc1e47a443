import { Code, ConnectError, fieldViolationsOf } from "@berth/platform";
import { DesiredState, InstanceStatus } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { EnvVarType, Transport } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { useEngines } from "@berth/testkit";
import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query, type Stack, startStack } from "./stack.js";

// Create and update validation against a real registry (env_schema over gRPC) and Postgres:
// every rule, every problem in one answer, each naming its field, and nothing written.
describe("instance validation", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let stack: Stack;
  let serverId: string;

  beforeAll(async () => {
    engines = await useEngines();
    stack = await startStack(engines);
    const { server } = await stack.registryClient.createServer({
      server: {
        name: "weather",
        image: "berth/weather:1",
        transport: Transport.STDIO,
        command: ["node", "weather.js"],
        envSchema: [
          { name: "API_KEY", type: EnvVarType.STRING, required: true, secret: true },
          { name: "UNITS", type: EnvVarType.STRING, choices: ["metric", "imperial"] },
          { name: "RETRIES", type: EnvVarType.INTEGER, defaultValue: "3" },
          { name: "TIMEOUT", type: EnvVarType.NUMBER },
          { name: "VERBOSE", type: EnvVarType.BOOLEAN },
          { name: "REGION", type: EnvVarType.STRING, required: true },
        ],
      },
    });
    serverId = server!.id;
  });
  afterAll(async () => {
    await stack?.stop();
    await engines?.cleanup();
  });

  async function refused(call: Promise<unknown>, code = Code.InvalidArgument) {
    const error = await call.then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.code).toBe(code);
    return error!;
  }
  const fieldsOf = (error: ConnectError) =>
    fieldViolationsOf(error)
      .map((v) => v.field)
      .sort();
  const rowCount = async () =>
    (
      await query<{ n: number }>(
        engines.databaseUrl,
        "select count(*)::int as n from instances.instances",
      )
    )[0]!.n;
  const create = (instance: Record<string, unknown>, secrets: Record<string, string> = {}) =>
    stack.instancesClient.createInstance({ instance, secrets });

  it("creates a valid instance: PENDING, generation 1, defaults filled, /mcp/<name>", async () => {
    const { instance } = await create(
      { name: "weather-1", serverId: "weather", jsonSpec: { environment: { REGION: "eu" } } },
      { API_KEY: "valid-key-1" },
    );
    expect(instance).toMatchObject({
      name: "weather-1",
      serverId,
      status: InstanceStatus.PENDING,
      desiredState: DesiredState.RUNNING,
      generation: 1n,
      revision: 1n,
      endpoint: "/mcp/weather-1",
    });
    expect(instance!.jsonSpec).toEqual({
      type: "docker",
      image: "berth/weather:1",
      transport: "stdio",
      command: ["node", "weather.js"],
      environment: {
        API_KEY: `secret_ref:${instance!.id}:API_KEY`,
        REGION: "eu",
        RETRIES: "3",
      },
    });
  });

  it("reports every problem of a create at once, each naming its field, and writes nothing", async () => {
    const before = await rowCount();
    const error = await refused(
      create(
        {
          name: "Bad Name",
          description: "x".repeat(2001),
          serverId: "weather",
          jsonSpec: {
            type: "docker",
            transport: "telepathy",
            port: 0,
            path: "no-slash",
            command: ["node", 1],
            resources: { memory_limit: "1k", cpu_limit: "many" },
            health_check: { interval: 5, timeout: 0 },
            environment: {
              UNITS: "kelvin",
              RETRIES: "three",
              TIMEOUT: "soon",
              VERBOSE: "maybe",
              COLOR: "red",
            },
            extra: true,
          } as JsonObject,
        },
        { UNITS: "metric" },
      ),
    );
    expect(fieldsOf(error)).toEqual([
      "instance.description",
      "instance.json_spec.command[1]",
      "instance.json_spec.environment.API_KEY",
      "instance.json_spec.environment.COLOR",
      "instance.json_spec.environment.REGION",
      "instance.json_spec.environment.RETRIES",
      "instance.json_spec.environment.TIMEOUT",
      "instance.json_spec.environment.UNITS",
      "instance.json_spec.environment.VERBOSE",
      "instance.json_spec.extra",
      "instance.json_spec.health_check.timeout",
      "instance.json_spec.path",
      "instance.json_spec.port",
      "instance.json_spec.resources.cpu_limit",
      "instance.json_spec.resources.memory_limit",
      "instance.json_spec.transport",
      "instance.name",
      "secrets.UNITS",
    ]);
    const descriptions = Object.fromEntries(
      fieldViolationsOf(error).map((v) => [v.field, v.description]),
    );
    expect(descriptions["instance.json_spec.environment.UNITS"]).toBe(
      "must be one of metric, imperial",
    );
    expect(descriptions["instance.json_spec.environment.RETRIES"]).toBe("must be an integer");
    expect(descriptions["instance.json_spec.environment.COLOR"]).toMatch(
      /not a variable of server "weather"/,
    );
    expect(descriptions["instance.json_spec.environment.API_KEY"]).toMatch(/is required/);
    expect(await rowCount()).toBe(before);
  });

  it("requires a known catalog entry for docker instances", async () => {
    const missing = await refused(create({ name: "orphan", serverId: "no-such-server" }));
    expect(fieldsOf(missing)).toContain("instance.server_id");
    const bare = await refused(
      create({ name: "bare", jsonSpec: { type: "docker", image: "x:1" } }),
    );
    expect(fieldsOf(bare)).toEqual(["instance.server_id"]);
  });

  it("checks url specs: http(s) endpoints only, forbidden addresses refused", async () => {
    const error = await refused(
      create({
        name: "remote",
        jsonSpec: { type: "url", endpoint: "http://169.254.169.254/latest", transport: "stdio" },
      }),
    );
    expect(fieldsOf(error)).toEqual([
      "instance.json_spec.endpoint",
      "instance.json_spec.transport",
    ]);
    for (const endpoint of [
      "ftp://mcp.example.com/",
      "not a url",
      "http://10.1.2.3/mcp",
      "http://[fe80::1]/mcp",
    ]) {
      const bad = await refused(create({ name: "remote", jsonSpec: { type: "url", endpoint } }));
      expect(fieldsOf(bad)).toEqual(["instance.json_spec.endpoint"]);
    }
    const local = await create({
      name: "local",
      jsonSpec: { type: "url", endpoint: "http://127.0.0.1:9/mcp" },
    });
    expect(local.instance?.serverId).toBe("");
  });

  it("keeps each instance's team (default when none is given) and lists by team", async () => {
    const url = { type: "url", endpoint: "https://mcp.example.com/mcp" };
    const red = (await create({ name: "team-red-1", team: "red", jsonSpec: url })).instance!;
    const plain = (await create({ name: "team-none-1", jsonSpec: url })).instance!;
    expect(red.team).toBe("red");
    expect(plain.team).toBe("default");
    const bad = await refused(create({ name: "team-bad-1", team: "Red Team!", jsonSpec: url }));
    expect(fieldsOf(bad)).toEqual(["instance.team"]);
    const names = async (teams: string[]) =>
      (await stack.instancesClient.listInstances({ teams, pageSize: 500 })).instances.map(
        (i) => i.name,
      );
    expect(await names(["red"])).toEqual(["team-red-1"]);
    expect(await names(["red", "default"])).toEqual(
      expect.arrayContaining(["team-red-1", "team-none-1"]),
    );
    expect(await names(["blue"])).toEqual([]);
    const badFilter = await refused(stack.instancesClient.listInstances({ teams: ["x y"] }));
    expect(fieldsOf(badFilter)).toEqual(["teams[0]"]);
    // The team is not changeable: an update mask naming it is refused.
    await refused(
      stack.instancesClient.updateInstance({
        instance: { id: red.id, team: "blue" },
        updateMask: { paths: ["team"] },
      }),
    );
  });

  it("answers ALREADY_EXISTS for a taken name", async () => {
    await create({
      name: "twin",
      jsonSpec: { type: "url", endpoint: "https://mcp.example.com/mcp" },
    });
    await refused(
      create({ name: "twin", jsonSpec: { type: "url", endpoint: "https://mcp.example.com/mcp" } }),
      Code.AlreadyExists,
    );
  });

  it("validates updates the same way, against the stored secrets", async () => {
    const { instance } = await create(
      { name: "weather-2", serverId, jsonSpec: { environment: { REGION: "eu" } } },
      { API_KEY: "valid-key-2" },
    );
    const error = await refused(
      stack.instancesClient.updateInstance({
        instance: { id: instance!.id, jsonSpec: { environment: { UNITS: "kelvin" } } },
        updateMask: { paths: ["json_spec", "name"] },
      }),
    );
    expect(fieldsOf(error)).toEqual([
      "instance.json_spec.environment.REGION",
      "instance.json_spec.environment.UNITS",
      "update_mask",
    ]);
    const ok = await stack.instancesClient.updateInstance({
      instance: { id: instance!.id, jsonSpec: { environment: { REGION: "us", UNITS: "metric" } } },
      updateMask: { paths: ["json_spec"] },
    });
    expect(ok.instance?.generation).toBe(2n);
    expect((ok.instance!.jsonSpec!.environment as JsonObject).API_KEY).toBe(
      `secret_ref:${instance!.id}:API_KEY`,
    );
    await refused(
      stack.instancesClient.updateInstance({
        instance: { id: instance!.id, description: "stale", revision: 1n },
      }),
      Code.Aborted,
    );
  });

  it("answers UNAVAILABLE and writes nothing when the registry is down", async () => {
    const before = await rowCount();
    await stack.registry.stop();
    try {
      await refused(
        create(
          { name: "no-registry", serverId, jsonSpec: { environment: { REGION: "eu" } } },
          { API_KEY: "k" },
        ),
        Code.Unavailable,
      );
      expect(await rowCount()).toBe(before);
    } finally {
      // Later files get a fresh stack; this one only needs stopping.
      stack.registry.stop = async () => {};
    }
  });
});

describe("endpoint policy setting", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let stack: Stack;

  beforeAll(async () => {
    engines = await useEngines();
    stack = await startStack(engines, {
      BERTH_ALLOW_PRIVATE_ENDPOINTS: "true",
      BERTH_ALLOW_LOOPBACK_ENDPOINTS: "false",
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await engines?.cleanup();
  });

  it("lets an operator allow private addresses and refuse loopback", async () => {
    const create = (name: string, endpoint: string) =>
      stack.instancesClient.createInstance({
        instance: { name, jsonSpec: { type: "url", endpoint } },
      });
    expect((await create("private", "http://10.1.2.3/mcp")).instance?.name).toBe("private");
    const error = await create("loop", "http://127.0.0.1:9/mcp").catch((e: unknown) =>
      ConnectError.from(e),
    );
    expect(fieldViolationsOf(error as ConnectError)).toEqual([
      { field: "instance.json_spec.endpoint", description: expect.stringMatching(/loopback/) },
    ]);
  });
});
