import { loadConfig } from "@berth/platform";
import { describe, expect, it } from "vitest";
import { runtimeEnv } from "./config.js";

const required = {
  BERTH_MESH_CA: "/run/berth/mesh/ca.crt",
  BERTH_MESH_CERT: "/run/berth/mesh/service.crt",
  BERTH_MESH_KEY: "/run/berth/mesh/service.key",
  NATS_USER: "runtime",
  NATS_PASSWORD: "a-password",
  DATABASE_URL: "postgres://u:p@127.0.0.1:5432/berth",
};

describe("runtime configuration: BERTH_LAUNCHER_PATH", () => {
  it("is unset by default: the launcher beside the code is mounted", () => {
    expect(loadConfig(runtimeEnv, required).BERTH_LAUNCHER_PATH).toBeUndefined();
  });

  it("takes the launcher's absolute path on the engine's host (a runtime in a container)", () => {
    const path = "/var/lib/berth-compose/launcher/berth-launch.cjs";
    expect(loadConfig(runtimeEnv, { ...required, BERTH_LAUNCHER_PATH: path })).toMatchObject({
      BERTH_LAUNCHER_PATH: path,
    });
  });

  it("refuses a relative path, naming the variable", () => {
    expect(() =>
      loadConfig(runtimeEnv, { ...required, BERTH_LAUNCHER_PATH: "launcher/berth-launch.cjs" }),
    ).toThrow(/BERTH_LAUNCHER_PATH must be an absolute path to a \.cjs file/);
  });
});
