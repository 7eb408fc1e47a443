import { useEngines } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKey, type KeyedMesh, startKeyedMesh } from "./support/gateway-mesh.js";
import { type GatewayReplica, startGatewayReplica } from "./support/gateway-replica.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Verified keys are cached for five minutes on both replicas: only the revocation feed can make
// gateway B refuse a key within the test's polling window.
const LONG_CACHE = { API_KEY_CACHE_MS: "300000" };

describe("two gateway replicas on one mesh", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: KeyedMesh;
  let b: GatewayReplica;

  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startKeyedMesh(engines, { env: LONG_CACHE });
    b = await startGatewayReplica(mesh, engines, LONG_CACHE);
  });
  afterAll(async () => {
    await b?.stop();
    await mesh?.stop();
    await engines?.cleanup();
  });

  it("refuses on gateway B a key revoked through gateway A, without waiting for B's cache", async () => {
    const { id, key } = await createKey(mesh, { scopes: ["API_KEY_SCOPE_READ"] });
    // Both replicas have verified the key and hold it in their caches.
    expect((await b.rest("GET", "/v1/servers", undefined, key)).status).toBe(200);
    expect((await mesh.rest("GET", "/v1/servers", undefined, key)).status).toBe(200);
    expect((await b.rest("GET", "/v1/servers", undefined, key)).status).toBe(200);

    const revoked = await mesh.rest("POST", `/v1/apiKeys/${id}:revoke`, {});
    expect(revoked.status).toBe(200);
    const start = performance.now();
    let answer: Response | undefined;
    while (performance.now() - start < 20_000) {
      answer = await b.rest("GET", "/v1/servers", undefined, key);
      if (answer.status !== 200) break;
      await sleep(5);
    }
    const delayMs = Math.round(performance.now() - start);
    console.info(`gateway B refused the key revoked on gateway A after ${delayMs} ms`);
    expect(answer?.status, `gateway B still accepted the key ${delayMs} ms after`).toBe(401);
    const body = (await answer!.json()) as { error: { message: string } };
    expect(body.error.message).toContain("revoked");
    // And A, which revoked it, refuses it at once.
    expect((await mesh.rest("GET", "/v1/servers", undefined, key)).status).toBe(401);
  });
});
