import { Writable } from "node:stream";
import { createLogger, loadConfig } from "@berth/platform";
import { useEngines } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { meshEnv, serviceMeshEnv } from "../../../test/support/mesh.js";
import { gatewayEnv, startGateway } from "../src/index.js";

describe("bootstrap admin key", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  const logLines: string[] = [];
  const logger = createLogger({
    service: "gateway",
    level: "debug",
    destination: new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    }),
  });

  beforeAll(async () => {
    engines = await useEngines();
  });
  afterAll(async () => {
    await engines?.cleanup();
  });

  const start = async (printed: string[]) => {
    // Without BERTH_BOOTSTRAP_API_KEY: the gateway must make (and print) the key itself.
    const { BERTH_BOOTSTRAP_API_KEY: _given, ...env } = meshEnv(engines);
    const config = loadConfig(gatewayEnv, {
      ...env,
      ...serviceMeshEnv("gateway", engines),
      REGISTRY_ADDR: "127.0.0.1:1",
      INSTANCES_ADDR: "127.0.0.1:1",
      RUNTIME_ADDR: "127.0.0.1:1",
    });
    return startGateway(config, logger, { print: (line) => printed.push(line) });
  };

  it("is created and printed exactly once, even by two gateways starting together, and never logged", async () => {
    const printed: string[] = [];
    const [a, b] = await Promise.all([start(printed), start(printed)]);
    try {
      expect(printed).toHaveLength(1);
      const [, key] =
        /^BERTH_BOOTSTRAP_API_KEY=(berth_[0-9a-f]{16}_[A-Za-z0-9_-]{43})$/.exec(printed[0]!) ?? [];
      expect(key).toBeDefined();
      for (const gateway of [a, b]) {
        const response = await fetch(`${gateway.url}/v1/apiKeys`, {
          headers: { authorization: `Bearer ${key}` },
        });
        expect(response.status).toBe(200);
        const body = (await response.json()) as {
          apiKeys: Array<{ displayName: string; scopes: string[] }>;
        };
        expect(body.apiKeys).toEqual([
          expect.objectContaining({
            displayName: "bootstrap admin",
            scopes: ["API_KEY_SCOPE_ADMIN"],
          }),
        ]);
      }
      expect(logLines.join("")).toContain("created the bootstrap admin API key");
      expect(logLines.join("")).not.toContain(key!.split("_")[2]!);
    } finally {
      await a.stop();
      await b.stop();
    }

    const again: string[] = [];
    const restarted = await start(again);
    await restarted.stop();
    expect(again).toEqual([]);
  });

  it("refuses a malformed preset key without echoing it", () => {
    const env = { ...meshEnv(engines), BERTH_BOOTSTRAP_API_KEY: "hunter2-secret" };
    expect(() => loadConfig(gatewayEnv, env)).toThrow(/BERTH_BOOTSTRAP_API_KEY must look like/);
    try {
      loadConfig(gatewayEnv, env);
    } catch (error) {
      expect((error as Error).message).not.toContain("hunter2");
    }
  });
});
