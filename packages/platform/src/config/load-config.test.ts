import { describe, expect, it } from "vitest";
import { z } from "zod";
import { StartupError } from "../service/startup-error.js";
import { addressVar, baseEnv, loadConfig, portVar } from "./load-config.js";

const mesh = {
  BERTH_MESH_CA: "/etc/berth/ca.crt",
  BERTH_MESH_CERT: "/etc/berth/registry.crt",
  BERTH_MESH_KEY: "/etc/berth/registry.key",
  NATS_USER: "registry",
  NATS_PASSWORD: "a-password",
};

const schema = z.object({
  ...baseEnv,
  GRPC_PORT: portVar(50051),
  PEER_ADDR: addressVar("127.0.0.1:1"),
});

describe("loadConfig", () => {
  it("takes the servers of a NATS cluster and the copies of each stream", () => {
    const config = loadConfig(schema, {
      ...mesh,
      DATABASE_URL: "postgres://u:p@127.0.0.1:5432/berth",
      NATS_URL: "nats://127.0.0.1:4222,nats://127.0.0.1:4223, nats://127.0.0.1:4224",
      NATS_STREAM_REPLICAS: "3",
    });
    expect(config.NATS_STREAM_REPLICAS).toBe(3);
    expect(config.NATS_URL.split(",")).toHaveLength(3);
    expect(() =>
      loadConfig(schema, {
        ...mesh,
        DATABASE_URL: "postgres://u:p@127.0.0.1:5432/berth",
        NATS_URL: "nats://127.0.0.1:4222,http://x",
        NATS_STREAM_REPLICAS: "7",
      }),
    ).toThrow(/NATS_URL.*NATS_STREAM_REPLICAS|NATS_STREAM_REPLICAS.*NATS_URL/);
  });

  it("parses valid variables and fills defaults", () => {
    const config = loadConfig(schema, {
      ...mesh,
      DATABASE_URL: "postgres://u:p@127.0.0.1:5432/berth",
    });
    expect(config).toMatchObject({
      GRPC_PORT: 50051,
      NATS_URL: "nats://127.0.0.1:4222",
      LOG_LEVEL: "info",
    });
  });

  it("names every bad variable in one line without echoing values", () => {
    const attempt = () =>
      loadConfig(schema, {
        ...mesh,
        DATABASE_URL: "mysql://u:topsecret@h/db",
        GRPC_PORT: "99999",
        PEER_ADDR: "nope",
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
    expect(message).not.toContain("\n");
    expect(message).toMatch(/DATABASE_URL must be a URL like postgres:/);
    expect(message).toMatch(/GRPC_PORT must be a port/);
    expect(message).toMatch(/PEER_ADDR must be host:port/);
    expect(message).not.toContain("topsecret");
  });

  it("says a missing required variable is required", () => {
    expect(() => loadConfig(schema, {})).toThrow(/DATABASE_URL is required/);
  });

  it("requires every service's mesh certificate and NATS credential", () => {
    expect(() => loadConfig(schema, { DATABASE_URL: "postgres://u:p@h:5432/db" })).toThrow(
      /BERTH_MESH_CA is required.*BERTH_MESH_CERT is required.*BERTH_MESH_KEY is required.*NATS_USER is required.*NATS_PASSWORD is required/,
    );
  });
});
