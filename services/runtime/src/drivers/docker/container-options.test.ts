import { describe, expect, it } from "vitest";
import { parseSpec } from "../../spec/parse-spec.js";
import type { DockerSpec } from "../../spec/types.js";
import {
  containerOptions,
  containerUser,
  GUARD_PORT,
  guardOptions,
  LAUNCHER_TARGET,
  launchedArgv,
  NOBODY,
  SERVER_ALIAS,
  secretsLine,
} from "./container-options.js";

const spec = (json: Record<string, unknown>) =>
  (parseSpec({ type: "docker", image: "img:1", ...json }) as { spec: DockerSpec }).spec;

describe("containerOptions", () => {
  it("hardens an http container, publishes nothing and names it on its network", () => {
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
        RestartPolicy: { Name: "no" },
      },
      NetworkingConfig: { EndpointsConfig: { "berth-i": { Aliases: [SERVER_ALIAS] } } },
    });
    expect(options.HostConfig?.PortBindings).toBeUndefined();
    expect(options.Entrypoint).toBeUndefined();
  });

  it("publishes the port guard on loopback only, hardened, with no credential in its config", () => {
    const options = guardOptions({
      name: "berth-i-g2-guard",
      labels: { "berth.role": "guard" },
      image: "berth/mcp-guard:1",
      network: "berth-i-edge",
      upstreamPort: 3001,
    });
    expect(options).toMatchObject({
      Image: "berth/mcp-guard:1",
      User: NOBODY,
      Env: [`GUARD_PORT=${GUARD_PORT}`, `UPSTREAM=${SERVER_ALIAS}:3001`],
      OpenStdin: true,
      StdinOnce: true,
      HostConfig: {
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        ReadonlyRootfs: true,
        NetworkMode: "berth-i-edge",
        PortBindings: { [`${GUARD_PORT}/tcp`]: [{ HostIp: "127.0.0.1", HostPort: "" }] },
      },
    });
  });

  it("keeps stdin open for an stdio server and publishes nothing", () => {
    const options = containerOptions(
      {
        instanceId: "i",
        generation: 1,
        spec: spec({ command: ["node", "s.js"], environment: { A: "1" } }),
      },
      { name: "n", labels: {}, network: "none", user: NOBODY },
    );
    expect(options).toMatchObject({
      OpenStdin: true,
      // stdin outlives the runtime's attachment, so a restarted runtime can re-attach.
      StdinOnce: false,
      Tty: false,
      Entrypoint: ["node", "s.js"],
      Env: ["A=1"],
    });
    expect(options.HostConfig?.PortBindings).toBeUndefined();
    expect(options.HostConfig?.NetworkMode).toBe("none");
  });

  it("runs a node server through the mounted launcher when secrets are delivered", () => {
    const image = {
      Config: { Entrypoint: ["/usr/bin/node", "/app/index.js"], Cmd: ["streamableHttp"] },
    } as never;
    const request = {
      instanceId: "i",
      generation: 1,
      spec: spec({ transport: "http", port: 3001, environment: { A: "1" } }),
      secretEnv: { TOKEN: "s3cret-value" },
    };
    const argv = launchedArgv(request.spec, image);
    expect(argv).toEqual({
      entrypoint: ["/usr/bin/node", LAUNCHER_TARGET],
      cmd: ["/app/index.js", "streamableHttp"],
    });
    const options = containerOptions(request, {
      name: "n",
      labels: {},
      network: "berth-i",
      user: NOBODY,
      port: 3001,
      launcher: { hostPath: "/host/launch.cjs", ...argv! },
    });
    expect(options).toMatchObject({
      Entrypoint: ["/usr/bin/node", LAUNCHER_TARGET],
      Cmd: ["/app/index.js", "streamableHttp"],
      OpenStdin: true,
      StdinOnce: true,
      Env: ["A=1"],
      HostConfig: {
        Mounts: [
          { Type: "bind", Source: "/host/launch.cjs", Target: LAUNCHER_TARGET, ReadOnly: true },
        ],
      },
    });
    // A server not started by node gets no launcher (and the driver refuses its secrets).
    expect(launchedArgv(spec({ command: ["/bin/server"] }), image)).toBeUndefined();
    expect(JSON.stringify(options)).not.toContain("s3cret-value");
    expect(secretsLine({ TOKEN: "v" })).toBe('{"env":{"TOKEN":"v"}}\n');
  });
});

describe("containerUser", () => {
  it("is the spec's user, else nobody (65534)", () => {
    expect(containerUser("1000")).toBe("1000");
    expect(containerUser(undefined)).toBe(NOBODY);
    expect(containerUser("")).toBe(NOBODY);
  });
});
