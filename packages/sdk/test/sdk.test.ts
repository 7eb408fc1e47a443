import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { BerthError, createBerthClient, ServerStatus, Transport } from "@berth/sdk";
import { useEngines } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMesh, type TestMesh } from "../../../test/support/mesh.js";

const sdkRoot = fileURLToPath(new URL("..", import.meta.url));
const tsxLoader = import.meta.resolve("tsx");
const run = promisify(execFile);

describe("@berth/sdk against the gateway", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  let mesh: TestMesh;
  beforeAll(async () => {
    engines = await useEngines();
    mesh = await startMesh(engines);
  });
  afterAll(async () => {
    await mesh?.stop();
    await engines?.cleanup();
  });

  const client = () =>
    createBerthClient({
      baseUrl: mesh.gateway.url,
      apiKey: mesh.apiKey,
    });

  it("creates and reads catalog entries with typed messages", async () => {
    const berth = client();
    const { server } = await berth.registry.createServer({
      server: { name: "sdk-a", transport: Transport.STDIO },
    });
    expect(server?.status).toBe(ServerStatus.ACTIVE);
    const got = await berth.registry.getServer({ id: server!.id });
    expect(got.server?.name).toBe("sdk-a");
  });

  it("throws BerthError with the code and the field violations", async () => {
    const error = await client()
      .registry.createServer({ server: { name: "Bad Name!" } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BerthError);
    expect((error as BerthError).code).toBe("INVALID_ARGUMENT");
    expect((error as BerthError).fieldViolations.map((v) => v.field)).toEqual(["server.name"]);
    const missing = await client()
      .registry.getServer({ id: "nope" })
      .catch((e: unknown) => e);
    expect((missing as BerthError).code).toBe("NOT_FOUND");
  });

  it("reports an unreachable gateway as UNAVAILABLE", async () => {
    const berth = createBerthClient({ baseUrl: "http://127.0.0.1:1", timeoutMs: 2_000 });
    const error = await berth.registry.getServer({ id: "x" }).catch((e: unknown) => e);
    expect((error as BerthError).code).toBe("UNAVAILABLE");
  });

  it("builds to an installable package whose example runs", async () => {
    // Every child runs asynchronously: the mesh the example calls lives in this very process.
    await run(process.execPath, ["--import", "tsx", "scripts/build.ts"], { cwd: sdkRoot });
    const work = mkdtempSync(join(tmpdir(), "berth-sdk-consumer-"));
    try {
      await run("npm", ["pack", join(sdkRoot, "dist"), "--pack-destination", work]);
      const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"))!;
      const manifest = { name: "consumer", private: true, type: "module" };
      writeFileSync(join(work, "package.json"), JSON.stringify(manifest));
      const install = ["install", "--no-audit", "--no-fund", "--prefer-offline", `./${tarball}`];
      await run("npm", install, { cwd: work, timeout: 120_000 });
      // The example as a consumer runs it: a copy beside the installed package, so "@berth/sdk"
      // resolves to the tarball's compiled code, not to this workspace.
      copyFileSync(join(sdkRoot, "examples", "quickstart.ts"), join(work, "quickstart.ts"));
      const { stdout } = await run(process.execPath, ["--import", tsxLoader, "quickstart.ts"], {
        cwd: work,
        env: { ...process.env, BERTH_URL: mesh.gateway.url, BERTH_API_KEY: mesh.apiKey },
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(stdout).toMatch(/server sdk-quickstart has id [0-9a-f-]{36}/);
      expect(stdout).toMatch(/\d+ catalog entries in all/);
      expect(stdout).toContain("refused as expected: INVALID_ARGUMENT server.name");
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);
});
