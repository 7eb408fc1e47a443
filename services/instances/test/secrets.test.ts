import { randomBytes } from "node:crypto";
import {
  Code,
  ConnectError,
  createServiceClient,
  encodeEnvelope,
  loadConfig,
  StartupError,
} from "@berth/platform";
import { InstanceSecretsService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { EnvVarType, Transport } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { useEngines } from "@berth/testkit";
import type { JsonObject } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readEvents } from "../../../test/support/events.js";
import { meshIdentity } from "../../../test/support/mesh.js";
import { instancesEnv } from "../src/index.js";
import { query, type Stack, startStack } from "./stack.js";

// Secret values go in write-only, are sealed with AES-256-GCM, and come out only to the runtime:
// never in a row's plaintext, a response, an event, a log line or an error.
describe("instance secrets", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let stack: Stack;
  const values = {
    api: `sk-live-${randomBytes(12).toString("hex")}`,
    token: `bearer-${randomBytes(12).toString("hex")}`,
    rotated: `sk-rotated-${randomBytes(12).toString("hex")}`,
    refused: `sk-refused-${randomBytes(12).toString("hex")}`,
  };
  const responses: unknown[] = [];
  let dockerId = "";
  let urlId = "";

  beforeAll(async () => {
    engines = await useEngines();
    stack = await startStack(engines);
    await stack.registryClient.createServer({
      server: {
        name: "vault",
        image: "berth/vault:1",
        transport: Transport.STDIO,
        envSchema: [
          { name: "API_KEY", type: EnvVarType.STRING, required: true, secret: true },
          { name: "PIN", type: EnvVarType.INTEGER, secret: true },
          { name: "REGION", type: EnvVarType.STRING, defaultValue: "eu" },
        ],
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await engines?.cleanup();
  });

  // stack.secretsClient presents the runtime's mesh certificate: nothing more to add per call.
  const authorized = () => ({});
  const code = (call: Promise<unknown>) =>
    call.then(
      () => 0,
      (e: unknown) => ConnectError.from(e).code,
    );

  it("stores ciphertext under the active key and only references in json_spec", async () => {
    const docker = await stack.instancesClient.createInstance({
      instance: { name: "vaulted", serverId: "vault" },
      secrets: { API_KEY: values.api },
    });
    dockerId = docker.instance!.id;
    const url = await stack.instancesClient.createInstance({
      instance: {
        name: "remote-vault",
        jsonSpec: {
          type: "url",
          endpoint: "https://mcp.example.com/mcp",
          authentication: { type: "bearer", token: values.token },
        },
      },
    });
    urlId = url.instance!.id;
    responses.push(docker, url);
    expect((docker.instance!.jsonSpec!.environment as JsonObject).API_KEY).toBe(
      `secret_ref:${dockerId}:API_KEY`,
    );
    expect(url.instance!.jsonSpec!.authentication).toEqual({
      type: "bearer",
      token: `secret_ref:${urlId}:AUTH_TOKEN`,
    });

    const rows = await query<{
      instance_id: string;
      name: string;
      key_id: string;
      nonce: Buffer;
      ciphertext: Buffer;
    }>(
      engines.databaseUrl,
      "select instance_id, name, key_id, nonce, ciphertext from instances.instance_secrets order by name",
    );
    expect(rows.map((r) => [r.instance_id, r.name, r.key_id, r.nonce.length])).toEqual([
      [dockerId, "API_KEY", "k1", 12],
      [urlId, "AUTH_TOKEN", "k1", 12],
    ]);
    for (const row of rows) {
      expect(row.ciphertext.includes(Buffer.from(values.api))).toBe(false);
      expect(row.ciphertext.includes(Buffer.from(values.token))).toBe(false);
    }
    const plain = await query<{ dump: string }>(
      engines.databaseUrl,
      "select string_agg(t::text, ' ') as dump from instances.instances t",
    );
    expect(plain[0]!.dump).toContain("secret_ref:");
    expect(plain[0]!.dump).not.toContain(values.api);
    expect(plain[0]!.dump).not.toContain(values.token);
  });

  it("lets only the runtime's credential resolve the values", async () => {
    const address = `127.0.0.1:${stack.instances.port}`;
    // No client certificate (TLS to the mesh CA only): refused before any handler runs.
    const anonymous = createClient(
      InstanceSecretsService,
      createGrpcTransport({
        baseUrl: `https://${address}`,
        nodeOptions: { ca: meshIdentity("runtime").ca },
      }),
    );
    expect(await code(anonymous.resolveInstanceSecrets({ instanceId: dockerId }))).toBe(
      Code.Unauthenticated,
    );
    // Another service's certificate, even the gateway's, may not read decrypted values.
    for (const other of ["gateway", "registry"]) {
      const wrong = createServiceClient(InstanceSecretsService, address, {
        identity: meshIdentity(other),
      });
      expect(await code(wrong.resolveInstanceSecrets({ instanceId: dockerId }))).toBe(
        Code.PermissionDenied,
      );
    }
    const resolved = await stack.secretsClient.resolveInstanceSecrets(
      { instanceId: dockerId, generation: 1n },
      authorized(),
    );
    expect(resolved.values).toEqual({ API_KEY: values.api });
    expect(resolved.generation).toBe(1n);
    const token = await stack.secretsClient.resolveInstanceSecrets(
      { instanceId: urlId },
      authorized(),
    );
    expect(token.values).toEqual({ AUTH_TOKEN: values.token });
  });

  it("sets a secret write-only: new generation, Updated event, stale generations refused", async () => {
    const set = await stack.instancesClient.setInstanceSecret({
      id: dockerId,
      name: "API_KEY",
      value: values.rotated,
    });
    responses.push(set);
    expect(set.instance).toMatchObject({ generation: 2n });
    expect(
      await code(
        stack.secretsClient.resolveInstanceSecrets(
          { instanceId: dockerId, generation: 1n },
          authorized(),
        ),
      ),
    ).toBe(Code.FailedPrecondition);
    const resolved = await stack.secretsClient.resolveInstanceSecrets(
      { instanceId: dockerId, generation: 2n },
      authorized(),
    );
    expect(resolved.values).toEqual({ API_KEY: values.rotated });

    const pin = await stack.instancesClient.updateInstance({
      instance: { id: dockerId },
      secrets: { PIN: "1234" },
    });
    responses.push(pin);
    expect(pin.instance?.generation).toBe(3n);
    expect((pin.instance!.jsonSpec!.environment as JsonObject).PIN).toBe(
      `secret_ref:${dockerId}:PIN`,
    );

    const badName = await stack.instancesClient
      .setInstanceSecret({ id: dockerId, name: "REGION", value: values.refused })
      .catch((e: unknown) => ConnectError.from(e));
    const badValue = await stack.instancesClient
      .setInstanceSecret({ id: dockerId, name: "PIN", value: values.refused })
      .catch((e: unknown) => ConnectError.from(e));
    expect([(badName as ConnectError).code, (badValue as ConnectError).code]).toEqual([
      Code.InvalidArgument,
      Code.InvalidArgument,
    ]);
    expect((badValue as ConnectError).rawMessage).toBe("value: must be an integer");
    responses.push(String(badName), String(badValue));

    responses.push(await stack.instancesClient.getInstance({ id: dockerId }));
    responses.push(await stack.instancesClient.listInstances({}));
  });

  it("re-seals under a new active key on restart, and still resolves", async () => {
    const [, oldKey] = stack.env.BERTH_SECRET_KEYS!.split(":");
    await stack.restartInstances({
      BERTH_SECRET_KEYS: `k2:${randomBytes(32).toString("base64")},k1:${oldKey}`,
    });
    const keys = await query<{ key_id: string }>(
      engines.databaseUrl,
      "select distinct key_id from instances.instance_secrets",
    );
    expect(keys).toEqual([{ key_id: "k2" }]);
    const resolved = await stack.secretsClient.resolveInstanceSecrets(
      { instanceId: dockerId },
      authorized(),
    );
    expect(resolved.values).toEqual({ API_KEY: values.rotated, PIN: "1234" });
  });

  it("never shows a value in a response, an event or a log line", async () => {
    const events = await readEvents(engines.natsUrl, "BERTH_INSTANCES", { waitMs: 3_000 });
    expect(events.length).toBeGreaterThanOrEqual(4);
    const outbox = await query<{ payload: Buffer }>(
      engines.databaseUrl,
      "select payload from instances.outbox",
    );
    const haystacks = [
      JSON.stringify(responses, (_k, v) => (typeof v === "bigint" ? String(v) : v)),
      ...events.map((e) => Buffer.from(encodeEnvelope(e.envelope)).toString("latin1")),
      ...outbox.map((row) => row.payload.toString("latin1")),
      stack.logLines.join("\n"),
    ];
    expect(stack.logLines.some((line) => line.includes("secrets resolved"))).toBe(true);
    const updates = events.filter((e) => e.subject === "berth.instances.instance.updated");
    expect(updates.map((e) => e.envelope.aggregateVersion)).toEqual([2n, 3n]);
    for (const value of Object.values(values)) {
      for (const haystack of haystacks) expect(haystack).not.toContain(value);
    }
  });

  it("refuses malformed keys in one line, without the value", () => {
    const material = randomBytes(16).toString("base64");
    const attempt = () =>
      loadConfig(instancesEnv, {
        DATABASE_URL: "postgres://u@127.0.0.1/db",
        BERTH_SECRET_KEYS: `k1:${material}`,
      });
    expect(attempt).toThrow(StartupError);
    const message = (() => {
      try {
        attempt();
        return "";
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toMatch(/BERTH_SECRET_KEYS must be a comma list .* not 32 bytes/);
    expect(message).not.toContain(material);
    expect(message).not.toContain("\n");
  });
});
