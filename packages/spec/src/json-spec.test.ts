import { describe, expect, it } from "vitest";
import {
  checkJsonSpec,
  InvalidSpecError,
  isInvalidSpecError,
  readJsonSpec,
  readJsonSpecOrThrow,
} from "./json-spec.js";
import { createProblems } from "./problems.js";

const fieldsOf = (json: unknown, options = {}) => {
  const problems = createProblems();
  checkJsonSpec(json, "json_spec", problems, options);
  return problems.list.map((p) => p.field).sort();
};

describe("the disagreements, resolved one way", () => {
  it("port is optional for a streamable_http server (the image's exposed port is used)", () => {
    expect(fieldsOf({ type: "docker", image: "x:1", transport: "streamable_http" })).toEqual([]);
    const read = readJsonSpec({ type: "docker", image: "x:1", transport: "streamable_http" });
    expect(read.ok && read.spec).toMatchObject({ transport: "http", port: undefined });
  });

  it("1t of memory is accepted everywhere", () => {
    const spec = { type: "docker", image: "x:1", resources: { memory_limit: "1t" } };
    expect(fieldsOf(spec)).toEqual([]);
    const read = readJsonSpec(spec);
    expect(read.ok && read.spec.type === "docker" && read.spec.resources.memoryBytes).toBe(
      1024 ** 4,
    );
  });

  it("less than 6m of memory is refused everywhere", () => {
    const spec = { type: "docker", image: "x:1", resources: { memory_limit: "5m" } };
    expect(fieldsOf(spec)).toEqual(["json_spec.resources.memory_limit"]);
    expect(readJsonSpec(spec)).toMatchObject({
      ok: false,
      message: expect.stringContaining("json_spec.resources.memory_limit must be at least 6m"),
    });
  });
});

describe("readJsonSpec", () => {
  it("reads a docker spec with defaults for what is absent", () => {
    expect(readJsonSpec({ type: "docker", image: "berth/echo:1" })).toEqual({
      ok: true,
      spec: {
        type: "docker",
        image: "berth/echo:1",
        transport: "stdio",
        port: undefined,
        path: "/mcp",
        command: undefined,
        args: undefined,
        environment: {},
        resources: { memoryBytes: 512 * 1024 ** 2, nanoCpus: 1e9, pidsLimit: 256 },
        user: undefined,
        networkEgress: false,
        health: { intervalMs: 30_000, timeoutMs: 10_000 },
      },
    });
  });

  it("reads network_egress as a flag and names it when it is not one", () => {
    const read = readJsonSpec({ type: "docker", image: "x:1", network_egress: true });
    expect(read.ok && read.spec.type === "docker" && read.spec.networkEgress).toBe(true);
    expect(fieldsOf({ type: "docker", image: "x:1", network_egress: "yes" })).toEqual([
      "json_spec.network_egress",
    ]);
  });

  it("reads limits, transport spellings, environment scalars and health", () => {
    const read = readJsonSpec({
      type: "docker",
      image: "x",
      transport: "TRANSPORT_STREAMABLE_HTTP",
      port: 8080,
      environment: { DEBUG: true, N: 3, KEY: "secret_ref:i:KEY" },
      resources: { memory_limit: "256m", cpu_limit: "0.5", pids_limit: 64 },
      health_check: { interval: 5, timeout: 20 },
    });
    expect(read.ok && read.spec).toMatchObject({
      transport: "http",
      port: 8080,
      environment: { DEBUG: "true", N: "3", KEY: "secret_ref:i:KEY" },
      resources: { memoryBytes: 256 * 1024 ** 2, nanoCpus: 5e8, pidsLimit: 64 },
      health: { intervalMs: 5000, timeoutMs: 20_000 },
    });
  });

  it("reads a url spec with headers and a bearer token", () => {
    const read = readJsonSpec({
      type: "url",
      endpoint: "https://mcp.example.com/mcp",
      headers: { "x-version": "2" },
      authentication: { type: "bearer", token: "secret_ref:i:AUTH_TOKEN" },
    });
    expect(read.ok && read.spec).toEqual({
      type: "url",
      endpoint: "https://mcp.example.com/mcp",
      headers: { "x-version": "2" },
      bearerToken: "secret_ref:i:AUTH_TOKEN",
      health: { intervalMs: 30_000, timeoutMs: 10_000 },
    });
  });

  it("names every bad field in one message", () => {
    const read = readJsonSpec({
      type: "docker",
      transport: "sse",
      resources: { memory_limit: "lots" },
    });
    expect(read.ok).toBe(false);
    const message = read.ok ? "" : read.message;
    expect(message).toContain("json_spec.image is required");
    expect(message).toContain("json_spec.transport must be stdio or http");
    expect(message).toContain("json_spec.resources.memory_limit must be a memory quantity");
  });

  it("throws an InvalidSpecError a consumer can recognise", () => {
    const error = (() => {
      try {
        readJsonSpecOrThrow({ type: "podman" });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidSpecError);
    expect(isInvalidSpecError(error)).toBe(true);
    expect((error as InvalidSpecError).problems).toEqual([
      { field: "json_spec.type", description: "must be docker or url" },
    ]);
    expect(isInvalidSpecError(new Error("x"))).toBe(false);
  });
});

describe("checkJsonSpec: shapes and limits", () => {
  const docker = (extra: Record<string, unknown>) => ({ type: "docker", image: "x:1", ...extra });
  const url = (extra: Record<string, unknown>) => ({
    type: "url",
    endpoint: "https://mcp.example.com/mcp",
    ...extra,
  });

  it.each([
    ["no object", "nope", ["json_spec"]],
    ["no type", {}, ["json_spec.type"]],
    ["unknown field", docker({ extra: 1 }), ["json_spec.extra"]],
    ["image with spaces", docker({ image: "a b" }), ["json_spec.image"]],
    ["long image", docker({ image: "x".repeat(1025) }), ["json_spec.image"]],
    ["port 0", docker({ port: 0 }), ["json_spec.port"]],
    ["port as text", docker({ port: "8080" }), ["json_spec.port"]],
    ["path without slash", docker({ path: "mcp" }), ["json_spec.path"]],
    ["long path", docker({ path: `/${"p".repeat(1024)}` }), ["json_spec.path"]],
    ["path with newline", docker({ path: "/a\nb" }), ["json_spec.path"]],
    ["command not a list", docker({ command: "node" }), ["json_spec.command"]],
    ["command item", docker({ command: ["node", 1] }), ["json_spec.command[1]"]],
    ["long arg", docker({ args: ["x".repeat(4097)] }), ["json_spec.args[0]"]],
    ["too many args", docker({ args: Array(257).fill("a") }), ["json_spec.args"]],
    ["user with spaces", docker({ user: "a b" }), ["json_spec.user"]],
    ["long user", docker({ user: "u".repeat(65) }), ["json_spec.user"]],
    ["env name", docker({ environment: { "1X": "a" } }), ["json_spec.environment.1X"]],
    ["env object", docker({ environment: { X: {} } }), ["json_spec.environment.X"]],
    ["long env", docker({ environment: { X: "v".repeat(32769) } }), ["json_spec.environment.X"]],
    ["bad ref", docker({ environment: { X: "secret_ref:nope" } }), ["json_spec.environment.X"]],
    ["cpu 500m", docker({ resources: { cpu_limit: "500m" } }), ["json_spec.resources.cpu_limit"]],
    ["cpu 65", docker({ resources: { cpu_limit: 65 } }), ["json_spec.resources.cpu_limit"]],
    ["pids 8", docker({ resources: { pids_limit: 8 } }), ["json_spec.resources.pids_limit"]],
    ["health 0", docker({ health_check: { interval: 0 } }), ["json_spec.health_check.interval"]],
    ["health 1.5", docker({ health_check: { timeout: 1.5 } }), ["json_spec.health_check.timeout"]],
    ["url ftp", url({ endpoint: "ftp://x/" }), ["json_spec.endpoint"]],
    ["url creds", url({ endpoint: "https://u:p@x/" }), ["json_spec.endpoint"]],
    ["url tab", url({ endpoint: "https://mcp.exa\tmple.com/" }), ["json_spec.endpoint"]],
    [
      "url 2100",
      url({ endpoint: `https://x.example/${"a".repeat(2100)}` }),
      ["json_spec.endpoint"],
    ],
    ["url transport", url({ transport: "stdio" }), ["json_spec.transport"]],
    ["url header", url({ headers: { host: "x" } }), ["json_spec.headers.host"]],
    [
      "url auth type",
      url({ authentication: { type: "basic" } }),
      ["json_spec.authentication.type"],
    ],
    [
      "url no token",
      url({ authentication: { type: "bearer" } }),
      ["json_spec.authentication.token"],
    ],
    [
      "url none+token",
      url({ authentication: { type: "none", token: "t" } }),
      ["json_spec.authentication.token"],
    ],
    [
      "huge spec",
      docker({
        environment: Object.fromEntries(
          Array.from({ length: 9 }, (_, i) => [`V${i}`, "v".repeat(32_000)]),
        ),
      }),
      ["json_spec"],
    ],
  ])("%s", (_name, json, fields) => {
    expect(fieldsOf(json)).toEqual(fields);
  });

  it("accepts a 2048-character endpoint and refuses one of 2049", () => {
    const at = (n: number) => `https://x.example/${"a".repeat(n - 18)}`;
    expect(at(2048)).toHaveLength(2048);
    expect(fieldsOf(url({ endpoint: at(2048) }))).toEqual([]);
    expect(fieldsOf(url({ endpoint: at(2049) }))).toEqual(["json_spec.endpoint"]);
  });

  it("checks literal hosts against a policy when given one, and references against the instance", () => {
    const policy = { allowLoopback: false, allowPrivate: false };
    expect(fieldsOf(url({ endpoint: "http://[::169.254.169.254]/" }), { policy })).toEqual([
      "json_spec.endpoint",
    ]);
    expect(fieldsOf(url({ endpoint: "http://127.0.0.1/" }))).toEqual([]);
    const foreign = url({
      authentication: { type: "bearer", token: "secret_ref:other:AUTH_TOKEN" },
    });
    expect(fieldsOf(foreign, { instanceId: "mine" })).toEqual(["json_spec.authentication.token"]);
  });
});
