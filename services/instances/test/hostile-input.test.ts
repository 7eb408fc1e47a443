import { lookup } from "node:dns/promises";
import { hostname } from "node:os";
import { Code, ConnectError, fieldViolationsOf } from "@berth/platform";
import { EnvVarType, Transport } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { PreconditionFailureSchema } from "@berth/proto/gen/google/rpc/error_details_pb";
import { useEngines } from "@berth/testkit";
import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query, type Stack, startStack } from "./stack.js";

// Input a hostile (but authorised) caller may send, against real Postgres, NATS and registry:
// oversized fields, secrets rerouted by PATCH, smuggling headers, endpoints that point inside,
// images and users the catalog did not name, names shaped like ids. Each is refused, naming the
// field, and nothing is written; the legitimate paths still work.
describe("hostile input", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let stack: Stack;

  beforeAll(async () => {
    engines = await useEngines();
    // Loopback refused, as on a shared host: names that resolve to 127.0.0.1 must be caught.
    stack = await startStack(engines, { BERTH_ALLOW_LOOPBACK_ENDPOINTS: "false" });
    await stack.registryClient.createServer({
      server: {
        name: "vault",
        image: "berth/vault:1",
        transport: Transport.STDIO,
        command: ["node", "vault.js"],
        envSchema: [{ name: "API_KEY", type: EnvVarType.STRING, required: true, secret: true }],
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await engines?.cleanup();
  });

  const failure = (call: Promise<unknown>) =>
    call.then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
  async function refused(call: Promise<unknown>, code = Code.InvalidArgument) {
    const error = await failure(call);
    expect(error?.code, error?.message).toBe(code);
    return error!;
  }
  const fieldsOf = (error: ConnectError) =>
    fieldViolationsOf(error)
      .map((v) => v.field)
      .sort();
  const create = (instance: Record<string, unknown>, secrets: Record<string, string> = {}) =>
    stack.instancesClient.createInstance({ instance, secrets });
  const update = (id: string, jsonSpec: JsonObject, secrets: Record<string, string> = {}) =>
    stack.instancesClient.updateInstance({
      instance: { id, jsonSpec },
      updateMask: { paths: ["json_spec"] },
      secrets,
    });
  const resolve = async (instanceId: string) =>
    // The secrets client calls with the runtime's mesh certificate, as the runtime does.
    (await stack.secretsClient.resolveInstanceSecrets({ instanceId })).values;
  const storedSpec = async (id: string) =>
    (
      await query<{ json_spec: JsonObject; generation: string }>(
        engines.databaseUrl,
        "select json_spec, generation from instances.instances where id = $1",
        [id],
      )
    )[0]!;
  const rowCount = async () =>
    (
      await query<{ n: number }>(
        engines.databaseUrl,
        "select count(*)::int as n from instances.instances",
      )
    )[0]!.n;

  it("refuses a 2,100-character url endpoint (it would not fit the runtime's column)", async () => {
    const before = await rowCount();
    const endpoint = `https://mcp.example.com/${"a".repeat(2100)}`;
    const error = await refused(create({ name: "long", jsonSpec: { type: "url", endpoint } }));
    expect(fieldViolationsOf(error)).toEqual([
      { field: "instance.json_spec.endpoint", description: "must be at most 2048 characters" },
    ]);
    expect(await rowCount()).toBe(before);
  });

  it("limits every field: names, paths, commands, users, environment, headers, secrets", async () => {
    const error = await refused(
      create(
        {
          name: "x".repeat(64),
          description: "d".repeat(2001),
          serverId: "vault",
          jsonSpec: {
            path: `/${"p".repeat(1024)}`,
            command: ["node", "c".repeat(4097)],
            user: "u".repeat(65),
          },
        },
        { API_KEY: "k".repeat(65_537) },
      ),
    );
    expect(fieldsOf(error)).toEqual([
      "instance.description",
      "instance.json_spec.command[1]",
      "instance.json_spec.path",
      "instance.json_spec.user",
      "instance.name",
      "secrets.API_KEY",
    ]);
    expect(error.message).not.toContain("kkkk");
    const headers = await refused(
      create({
        name: "many-headers",
        jsonSpec: {
          type: "url",
          endpoint: "https://mcp.example.com/mcp",
          headers: { "x-big": "v".repeat(8193) },
        },
      }),
    );
    expect(fieldsOf(headers)).toEqual(["instance.json_spec.headers.x-big"]);
  });

  it("refuses instance names shaped like ids", async () => {
    const error = await refused(
      create({
        name: "8c5e0f3e-2b7a-4e4c-9d5b-3f1a2b3c4d5e",
        jsonSpec: { type: "url", endpoint: "https://mcp.example.com/mcp" },
      }),
    );
    expect(fieldViolationsOf(error)).toEqual([
      { field: "instance.name", description: "must not look like an id (a UUID)" },
    ]);
  });

  describe("secrets stay write-only", () => {
    it("refuses a PATCH of a url endpoint that keeps the sealed token, until it is supplied again", async () => {
      const { instance } = await create(
        {
          name: "remote-vault",
          jsonSpec: { type: "url", endpoint: "https://mcp.example.com/mcp" },
        },
        { AUTH_TOKEN: "original-token-1" },
      );
      const id = instance!.id;
      const kept = instance!.jsonSpec!;
      const before = await storedSpec(id);
      // The attack: same spec, endpoint moved to the attacker, secret_ref kept.
      const error = await refused(
        update(id, { ...kept, endpoint: "https://attacker.example.net/collect" }),
        Code.FailedPrecondition,
      );
      expect(error.rawMessage).toContain("instance.json_spec.endpoint");
      expect(error.rawMessage).toContain("secrets.AUTH_TOKEN");
      expect(error.findDetails(PreconditionFailureSchema)[0]?.violations[0]?.subject).toBe(
        "instance.json_spec.endpoint",
      );
      // The token copied into a header of the same endpoint is rerouting too.
      await refused(
        update(id, { ...kept, headers: { "x-copy": `secret_ref:${id}:AUTH_TOKEN` } }),
        Code.FailedPrecondition,
      );
      expect(await storedSpec(id)).toEqual(before);
      expect(await resolve(id)).toEqual({ AUTH_TOKEN: "original-token-1" });
      // The legitimate path: the caller knows the (new) token and supplies it.
      const moved = await update(
        id,
        { ...kept, endpoint: "https://mcp2.example.com/mcp" },
        { AUTH_TOKEN: "new-token-2" },
      );
      expect(moved.instance?.jsonSpec?.endpoint).toBe("https://mcp2.example.com/mcp");
      expect(moved.instance?.generation).toBe(2n);
      expect(await resolve(id)).toEqual({ AUTH_TOKEN: "new-token-2" });
      // Changes that deliver nothing new need no secret.
      const tuned = await update(id, {
        ...(moved.instance!.jsonSpec as JsonObject),
        health_check: { interval: 60, timeout: 5 },
      });
      expect(tuned.instance?.generation).toBe(3n);
    });

    it("refuses a PATCH of a docker command that keeps the sealed variable, until it is supplied again", async () => {
      const { instance } = await create(
        { name: "vault-1", serverId: "vault" },
        { API_KEY: "original-key-1" },
      );
      const id = instance!.id;
      const kept = instance!.jsonSpec!;
      expect((kept.environment as JsonObject).API_KEY).toBe(`secret_ref:${id}:API_KEY`);
      const changes: JsonObject[] = [
        { command: ["sh", "-c", "env"] },
        { args: ["--print-env"] },
        { user: "1000" },
      ];
      for (const change of changes) {
        const error = await refused(update(id, { ...kept, ...change }), Code.FailedPrecondition);
        expect(error.rawMessage).toContain(`instance.json_spec.${Object.keys(change)[0]}`);
        expect(error.rawMessage).toContain("secrets.API_KEY");
        expect(error.rawMessage).not.toContain("original-key-1");
      }
      expect((await storedSpec(id)).generation).toBe("1");
      const ok = await update(
        id,
        { ...kept, command: ["node", "vault.js", "--verbose"] },
        { API_KEY: "rotated-key-2" },
      );
      expect(ok.instance?.jsonSpec?.command).toEqual(["node", "vault.js", "--verbose"]);
      expect(await resolve(id)).toEqual({ API_KEY: "rotated-key-2" });
    });
  });

  it("refuses hop-by-hop, framing and host headers and values with control characters", async () => {
    const error = await refused(
      create({
        name: "smuggler",
        jsonSpec: {
          type: "url",
          endpoint: "https://mcp.example.com/mcp",
          headers: {
            "content-length": "0",
            "Transfer-Encoding": "chunked",
            host: "victim.example.com",
            connection: "keep-alive",
            "proxy-authorization": "x",
            "x-inject": "a\r\nx-smuggled: 1",
            "x-nul": "a\u0000b",
            "x-fine": "yes",
          },
        },
      }),
    );
    expect(fieldsOf(error)).toEqual([
      "instance.json_spec.headers.Transfer-Encoding",
      "instance.json_spec.headers.connection",
      "instance.json_spec.headers.content-length",
      "instance.json_spec.headers.host",
      "instance.json_spec.headers.proxy-authorization",
      "instance.json_spec.headers.x-inject",
      "instance.json_spec.headers.x-nul",
    ]);
  });

  it("refuses endpoints that point inside, written in any form or behind a name", async () => {
    for (const endpoint of [
      "http://[::169.254.169.254]/latest",
      "http://[64:ff9b::a9fe:a9fe]/latest",
      "http://[2002:a9fe:a9fe::]/latest",
      "http://192.0.0.192/latest",
      "http://[::ffff:127.0.0.1]:9/mcp",
      "http://localhost:9/mcp",
    ]) {
      const error = await refused(create({ name: "inside", jsonSpec: { type: "url", endpoint } }));
      expect(fieldsOf(error), endpoint).toEqual(["instance.json_spec.endpoint"]);
    }
    // A name that is not a well-known one but resolves to loopback (this host's own name, when
    // /etc/hosts maps it to 127.0.0.1): only resolving it can tell.
    const own = hostname();
    const addresses = await lookup(own, { all: true }).catch(() => []);
    if (addresses.some((a) => a.address.startsWith("127.") || a.address === "::1")) {
      const error = await refused(
        create({ name: "own-name", jsonSpec: { type: "url", endpoint: `http://${own}:9/mcp` } }),
      );
      expect(fieldViolationsOf(error)[0]?.description).toMatch(/resolves to .*loopback/);
    }
  });

  describe("docker policy", () => {
    it("runs only the catalog entry's image and no root user, unless an admin allows it", async () => {
      const image = await refused(
        create(
          { name: "other-image", serverId: "vault", jsonSpec: { image: "alpine:3" } },
          { API_KEY: "k" },
        ),
      );
      expect(fieldViolationsOf(image)).toEqual([
        {
          field: "instance.json_spec.image",
          description: expect.stringMatching(/berth\/vault:1.*BERTH_ALLOWED_IMAGES/),
        },
      ]);
      for (const user of ["0", "root", "0:0"]) {
        const root = await refused(
          create({ name: "as-root", serverId: "vault", jsonSpec: { user } }, { API_KEY: "k" }),
        );
        expect(fieldsOf(root)).toEqual(["instance.json_spec.user"]);
      }
      await stack.restartInstances({
        BERTH_ALLOWED_IMAGES: "alpine:*, ghcr.io/acme/*",
        BERTH_ALLOW_ROOT_USER: "true",
      });
      const allowed = await create(
        { name: "other-image", serverId: "vault", jsonSpec: { image: "alpine:3", user: "0:0" } },
        { API_KEY: "k" },
      );
      expect(allowed.instance?.jsonSpec).toMatchObject({ image: "alpine:3", user: "0:0" });
      await refused(
        create(
          { name: "still-not", serverId: "vault", jsonSpec: { image: "busybox:1" } },
          { API_KEY: "k" },
        ),
      );
    });
  });
});
