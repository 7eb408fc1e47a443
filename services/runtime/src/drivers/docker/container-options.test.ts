import { describe, expect, it } from "vitest";
import { parseSpec } from "../../spec/parse-spec.js";
import type { DockerSpec } from "../../spec/types.js";
import { containerOptions, containerUser, NOBODY } from "./container-options.js";

const spec = (json: Record<string, unknown>) =>
  (parseSpec({ type: "docker", image: "img:1", ...json }) as { spec: DockerSpec }).spec;

describe("containerOptions", () => {
  it("hardens an http container and publishes its port on loopback only", () => {
    const options = containerOptions(
      {
        instanceId: "i",
        generation: 2,
        spec: spec({ transport: "http", port: 3001, args: ["serve"] }),
      },
      {
        name: "berth-i-g2",
        labels: { "berth.instance": "i" },
        network: "berth-i",
        user: NOBODY,
        port: 3001,
      },
    );
    expect(options).toMatchObject({
      Image: "img:1",
      Cmd: ["serve"],
      User: "65534:65534",
      OpenStdin: false,
      ExposedPorts: { "3001/tcp": {} },
      HostConfig: {
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        ReadonlyRootfs: true,
        PidsLimit: 256,
        NetworkMode: "berth-i",
        PortBindings: { "3001/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] },
        RestartPolicy: { Name: "no" },
      },
    });
    expect(options.Entrypoint).toBeUndefined();
  });

  it("keeps stdin open for an stdio server and publishes nothing", () => {
    const options = containerOptions(
      {
        instanceId: "i",
        generation: 1,
        spec: spec({ command: ["node", "s.js"], environment: { A: "1" } }),
      },
      { name: "n", labels: {}, network: "berth-i", user: NOBODY },
    );
    expect(options).toMatchObject({
      OpenStdin: true,
      StdinOnce: true,
      Tty: false,
      Entrypoint: ["node", "s.js"],
      Env: ["A=1"],
    });
    expect(options.HostConfig?.PortBindings).toBeUndefined();
  });
});

describe("containerUser", () => {
  it("prefers the spec, then a non-root image user, then nobody", () => {
    expect(containerUser("1000", "app")).toBe("1000");
    expect(containerUser(undefined, "app")).toBe("app");
    expect(containerUser(undefined, "root")).toBe(NOBODY);
    expect(containerUser(undefined, "0:0")).toBe(NOBODY);
    expect(containerUser(undefined, "")).toBe(NOBODY);
  });
});
