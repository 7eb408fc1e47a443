import { findFreePort, useEngines } from "@berth/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceMeshEnv } from "./support/mesh.js";
import { spawnService } from "./support/service-process.js";

// Bad configuration stops a service with one clear line naming the variable, never a stack
// trace and never the password.
describe("start-up errors", () => {
  let engines: Awaited<ReturnType<typeof useEngines>>;
  beforeAll(async () => {
    engines = await useEngines();
  });
  afterAll(async () => {
    await engines?.cleanup();
  });

  async function failToStart(env: Record<string, string>) {
    const registry = spawnService("registry", {
      ...serviceMeshEnv("registry", engines),
      LOG_LEVEL: "warn",
      GRPC_PORT: "0",
      ...env,
    });
    const exit = await Promise.race([
      registry.exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("still running after 30 s")), 30_000),
      ),
    ]).finally(() => registry.stop());
    const lines = registry.output().stderr.trim().split("\n");
    return { exit, lines, stdout: registry.output().stdout };
  }

  it("names a malformed DATABASE_URL", async () => {
    const { exit, lines } = await failToStart({
      DATABASE_URL: "not a url",
      NATS_URL: engines.natsUrl,
    });
    expect(exit.code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^registry: .*DATABASE_URL/);
  });

  it("names an unreachable database without printing its password", async () => {
    const port = await findFreePort();
    const { exit, lines, stdout } = await failToStart({
      DATABASE_URL: `postgres://berth:hunter2-secret@127.0.0.1:${port}/berth`,
      NATS_URL: engines.natsUrl,
    });
    expect(exit.code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^registry: .*DATABASE_URL/);
    expect(lines.join("\n") + stdout).not.toContain("hunter2-secret");
  });

  it("names NATS_URL when NATS is unreachable", async () => {
    const port = await findFreePort();
    const { exit, lines } = await failToStart({
      DATABASE_URL: engines.databaseUrl,
      NATS_URL: `nats://127.0.0.1:${port}`,
    });
    expect(exit.code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^registry: .*NATS_URL/);
  });

  it("refuses to start without its mesh certificate, or with a wrong NATS password", async () => {
    const missing = await failToStart({
      DATABASE_URL: engines.databaseUrl,
      BERTH_MESH_CERT: "",
    });
    expect(missing.exit.code).toBe(1);
    expect(missing.lines).toHaveLength(1);
    expect(missing.lines[0]).toMatch(/^registry: .*BERTH_MESH_CERT is required/);
    const wrong = await failToStart({
      DATABASE_URL: engines.databaseUrl,
      NATS_PASSWORD: "not-the-password",
    });
    expect(wrong.exit.code).toBe(1);
    expect(wrong.lines).toHaveLength(1);
    expect(wrong.lines[0]).toMatch(/^registry: .*NATS_URL.*(AUTHORIZATION|Authorization)/i);
    expect(wrong.lines.join("\n") + wrong.stdout).not.toContain("not-the-password");
  });
});
