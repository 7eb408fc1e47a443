import {
  EnvVarType,
  type McpServer,
  McpServerSchema,
  Transport,
} from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { createProblems } from "@berth/spec";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { buildSpec, checkResolvedEndpoint, type SpecPolicy } from "./spec-builder.js";

const server = create(McpServerSchema, {
  id: "s1",
  name: "weather",
  image: "berth/weather:1",
  transport: Transport.STREAMABLE_HTTP,
  port: 8080,
  path: "/mcp",
  command: ["node"],
  args: ["server.js"],
  envSchema: [
    { name: "API_KEY", type: EnvVarType.STRING, required: true, secret: true },
    { name: "MAX", type: EnvVarType.INTEGER, defaultValue: "10" },
    { name: "RATIO", type: EnvVarType.NUMBER },
    { name: "DEBUG", type: EnvVarType.BOOLEAN },
    { name: "MODE", type: EnvVarType.STRING, choices: ["fast", "slow"] },
    { name: "REGION", type: EnvVarType.STRING, required: true },
  ],
});

function build(
  raw: JsonObject | undefined,
  options: {
    server?: McpServer;
    given?: Record<string, string>;
    stored?: string[];
    policy?: Partial<SpecPolicy>;
  } = {},
) {
  const problems = createProblems();
  const secrets = {
    instanceId: "i1",
    given: options.given ?? {},
    givenAt: "secrets",
    stored: new Set(options.stored ?? []),
    toStore: new Map<string, string>(),
  };
  const built = buildSpec(
    {
      raw,
      at: "json_spec",
      server: "server" in options ? options.server : server,
      policy: {
        allowLoopback: true,
        allowPrivate: false,
        allowedImages: [],
        allowRootUser: false,
        ...options.policy,
      },
      secrets,
    },
    problems,
  );
  return { ...built, problems: problems.list, toStore: secrets.toStore };
}

const fields = (list: Array<{ field: string }>) => list.map((v) => v.field).sort();

describe("buildSpec for docker", () => {
  it("takes the catalog entry's idle default unless the request names an idle policy", () => {
    const sleepy = create(McpServerSchema, { ...server, idleTimeoutSeconds: 300 });
    const env = { environment: { REGION: "eu" } };
    const given = { API_KEY: "k" };
    expect(build(env, { server: sleepy, given }).spec.idle).toEqual({ timeout: 300 });
    const own = build({ ...env, idle: { timeout: 0 } }, { server: sleepy, given });
    expect(own.spec.idle).toEqual({ timeout: 0 });
    expect(build(env, { given }).spec.idle).toBeUndefined();
    const bad = build({ ...env, idle: { timeout: "soon" } }, { server: sleepy, given });
    expect(fields(bad.problems)).toEqual(["json_spec.idle.timeout"]);
  });

  it("fills defaults from the catalog and replaces secrets by references", () => {
    const result = build({ environment: { REGION: "eu" } }, { given: { API_KEY: "k-123" } });
    expect(result.problems).toEqual([]);
    expect(result.spec).toEqual({
      type: "docker",
      image: "berth/weather:1",
      transport: "streamable_http",
      port: 8080,
      path: "/mcp",
      command: ["node"],
      args: ["server.js"],
      environment: { API_KEY: "secret_ref:i1:API_KEY", MAX: "10", REGION: "eu" },
    });
    expect([...result.toStore]).toEqual([["API_KEY", "k-123"]]);
  });

  it("moves a secret given in the environment out of the spec", () => {
    const result = build({ environment: { REGION: "eu", API_KEY: "k-456" } });
    expect(result.problems).toEqual([]);
    expect(JSON.stringify(result.spec)).not.toContain("k-456");
    expect(result.toStore.get("API_KEY")).toBe("k-456");
  });

  it("reports every environment problem at once, never quoting a value", () => {
    const result = build({
      environment: { MAX: "ten", RATIO: "x", DEBUG: "yes", MODE: "medium", EXTRA: "1" },
    });
    expect(fields(result.problems)).toEqual([
      "json_spec.environment.API_KEY",
      "json_spec.environment.DEBUG",
      "json_spec.environment.EXTRA",
      "json_spec.environment.MAX",
      "json_spec.environment.MODE",
      "json_spec.environment.RATIO",
      "json_spec.environment.REGION",
    ]);
    const text = JSON.stringify(result.problems);
    expect(text).not.toMatch(/ten|medium|"yes"/);
    expect(text).toContain("must be one of fast, slow");
  });

  it("keeps a stored secret and accepts this instance's own reference", () => {
    const result = build(
      { environment: { REGION: "eu", API_KEY: "secret_ref:i1:API_KEY" } },
      { stored: ["API_KEY"] },
    );
    expect(result.problems).toEqual([]);
    expect(result.toStore.size).toBe(0);
    expect((result.spec.environment as JsonObject).API_KEY).toBe("secret_ref:i1:API_KEY");
  });

  it("refuses references to other instances and secrets for plain variables", () => {
    const result = build(
      { environment: { REGION: "eu", API_KEY: "secret_ref:other:API_KEY" } },
      { given: { REGION: "x", NOPE: "y" } },
    );
    expect(fields(result.problems)).toEqual([
      "json_spec.environment.API_KEY",
      "secrets.NOPE",
      "secrets.REGION",
    ]);
  });

  it("checks the shape: image, transport, port, path, command, resources, unknown fields", () => {
    const result = build({
      image: "has space",
      transport: "carrier-pigeon",
      port: 70000,
      path: "mcp",
      command: ["ok", 5],
      resources: { memory_limit: "lots", cpu_limit: "0", gpu: 1 },
      health_check: { interval: 0 },
      colour: "blue",
      environment: { REGION: "eu", API_KEY: "k" },
    });
    expect(fields(result.problems)).toEqual([
      "json_spec.colour",
      "json_spec.command[1]",
      "json_spec.health_check.interval",
      "json_spec.image",
      "json_spec.path",
      "json_spec.port",
      "json_spec.resources.cpu_limit",
      "json_spec.resources.gpu",
      "json_spec.resources.memory_limit",
      "json_spec.transport",
    ]);
  });

  it("infers the port (it is not required for http transports) but requires a type", () => {
    const bare = create(McpServerSchema, { name: "bare" });
    expect(fields(build({}, { server: bare }).problems)).toEqual(["json_spec.type"]);
    const http = build(
      { type: "docker", image: "x", transport: "http" },
      { server: bare, policy: { allowedImages: ["x"] } },
    );
    expect(http.problems).toEqual([]);
    expect(http.spec).toEqual({ type: "docker", image: "x", transport: "streamable_http" });
    const fromCatalog = build({ environment: { REGION: "eu" } }, { given: { API_KEY: "k" } });
    expect(fromCatalog.spec.port).toBe(8080);
  });

  it("runs the catalog entry's image unless an admin pattern allows another", () => {
    const base = { environment: { REGION: "eu" } };
    const given = { API_KEY: "k" };
    expect(build({ ...base, image: "berth/weather:1" }, { given }).problems).toEqual([]);
    const other = build({ ...base, image: "alpine:3" }, { given });
    expect(other.problems).toEqual([
      {
        field: "json_spec.image",
        description: expect.stringMatching(/berth\/weather:1.*BERTH_ALLOWED_IMAGES/),
      },
    ]);
    const allowed = build(
      { ...base, image: "ghcr.io/acme/tool:2" },
      { given, policy: { allowedImages: ["ghcr.io/acme/*"] } },
    );
    expect(allowed.problems).toEqual([]);
  });

  it("refuses a root user unless an admin allows it", () => {
    const given = { API_KEY: "k" };
    for (const user of ["0", "root", "0:0"]) {
      const spec = { environment: { REGION: "eu" }, user };
      expect(fields(build(spec, { given }).problems)).toEqual(["json_spec.user"]);
      expect(build(spec, { given, policy: { allowRootUser: true } }).problems).toEqual([]);
    }
    expect(build({ environment: { REGION: "eu" }, user: "1000:1000" }, { given }).problems).toEqual(
      [],
    );
  });

  it("limits secret and plain values", () => {
    const long = build(
      { environment: { REGION: "e".repeat(32_769) } },
      { given: { API_KEY: "k".repeat(65_537) } },
    );
    expect(fields(long.problems)).toEqual(["json_spec.environment.REGION", "secrets.API_KEY"]);
    expect(JSON.stringify(long.problems)).not.toContain("kkkk");
  });
});

describe("buildSpec for url", () => {
  it("moves a bearer token out and keeps a reference", () => {
    const result = build(
      { type: "url", endpoint: "https://mcp.example.com/mcp", authentication: { token: "tok-1" } },
      { server: undefined },
    );
    expect(result.problems).toEqual([]);
    expect(result.spec.authentication).toEqual({
      type: "bearer",
      token: "secret_ref:i1:AUTH_TOKEN",
    });
    expect(result.toStore.get("AUTH_TOKEN")).toBe("tok-1");
  });

  it("refuses bad endpoints and other secrets", () => {
    for (const [endpoint, reason] of [
      ["ftp://x/mcp", /http/],
      ["http://user:pw@mcp.example.com/", /credentials/],
      ["http://169.254.169.254/latest/meta-data", /metadata/],
      ["http://10.0.0.8/mcp", /private/],
    ] as const) {
      const result = build({ type: "url", endpoint }, { server: undefined, given: { X: "1" } });
      expect(fields(result.problems)).toEqual(["json_spec.endpoint", "secrets.X"]);
      expect(result.problems[0]!.description).toMatch(reason);
      expect(JSON.stringify(result.problems)).not.toContain("pw@");
    }
  });

  it("refuses an endpoint longer than the runtime's column, naming it", () => {
    const endpoint = `https://mcp.example.com/${"a".repeat(2100)}`;
    const result = build({ type: "url", endpoint }, { server: undefined });
    expect(result.problems).toEqual([
      { field: "json_spec.endpoint", description: "must be at most 2048 characters" },
    ]);
  });

  it("refuses header references that are not this instance's sealed token", () => {
    const spec = (value: string) => ({
      type: "url",
      endpoint: "https://mcp.example.com/mcp",
      headers: { "x-key": value },
    });
    expect(
      build(spec("secret_ref:i1:AUTH_TOKEN"), { server: undefined, stored: ["AUTH_TOKEN"] })
        .problems,
    ).toEqual([]);
    for (const value of [
      "secret_ref:i1:AUTH_TOKEN",
      "secret_ref:other:AUTH_TOKEN",
      "secret_ref:i1:API_KEY",
    ]) {
      const result = build(spec(value), {
        server: undefined,
        stored: value.includes("other") ? ["AUTH_TOKEN"] : [],
      });
      expect(fields(result.problems)).toEqual(["json_spec.headers.x-key"]);
    }
  });

  it("resolves the endpoint's name and refuses it when any address is forbidden", async () => {
    const lookup = ((host: string, _options: unknown, callback: (e: unknown, a: unknown) => void) =>
      callback(
        null,
        host === "inside.test"
          ? [{ address: "10.0.0.5", family: 4 }]
          : [{ address: "93.184.215.14", family: 4 }],
      )) as never;
    const policy = { allowLoopback: true, allowPrivate: false };
    for (const [host, expected] of [
      ["inside.test", ["json_spec.endpoint"]],
      ["public.test", []],
    ] as const) {
      const result = build({ type: "url", endpoint: `https://${host}/mcp` }, { server: undefined });
      const problems = createProblems();
      await checkResolvedEndpoint(result, "json_spec", policy, problems, lookup);
      expect(fields(problems.list)).toEqual(expected);
    }
  });

  it("takes plain headers but keeps credentials out of them", () => {
    const result = build(
      {
        type: "url",
        endpoint: "https://mcp.example.com/mcp",
        headers: { "x-team": "blue", Authorization: "Bearer leaked", "bad header": "x" },
      },
      { server: undefined },
    );
    expect(fields(result.problems)).toEqual([
      "json_spec.headers.Authorization",
      "json_spec.headers.bad header",
    ]);
    expect(JSON.stringify(result.problems)).not.toContain("leaked");
  });
});
