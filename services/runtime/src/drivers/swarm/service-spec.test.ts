import { describe, expect, it } from "vitest";
import { parseSpec } from "../../spec/parse-spec.js";
import type { DockerSpec } from "../../spec/types.js";
import { LAUNCHER_TARGET, SERVER_ALIAS } from "../docker/container-options.js";
import {
  launcherConfigName,
  overlayName,
  SECRETS_FILE,
  secretName,
  serviceName,
  serviceSpec,
  swarmGuardName,
} from "./service-spec.js";

const spec = (json: Record<string, unknown>) =>
  (parseSpec({ type: "docker", image: "img:1", ...json }) as { spec: DockerSpec }).spec;
const ID = "0b0f6a3e-5d43-4c5e-9a53-2f1b7c0d9e11";

describe("serviceSpec", () => {
  it("makes one hardened replica that Swarm never restarts and that publishes nothing", () => {
    const options = serviceSpec(
      {
        instanceId: ID,
        generation: 3,
        spec: spec({
          transport: "http",
          port: 3001,
          args: ["serve"],
          environment: { A: "1" },
          resources: { memory_limit: "256m", cpu_limit: "0.5", pids_limit: 64 },
        }),
      },
      {
        name: serviceName(ID, 3),
        labels: { "berth.instance": ID },
        imageId: "sha256:abc",
        network: overlayName(ID),
        user: "65534:65534",
      },
    );
    expect(options).toMatchObject({
      Name: `berth-${ID}-g3`,
      Labels: { "berth.instance": ID },
      Mode: { Replicated: { Replicas: 1 } },
      EndpointSpec: { Mode: "dnsrr" },
      TaskTemplate: {
        ContainerSpec: {
          Image: "sha256:abc",
          Args: ["serve"],
          Env: ["A=1"],
          Labels: { "berth.instance": ID },
          User: "65534:65534",
          OpenStdin: false,
          ReadOnly: true,
          CapabilityDrop: ["ALL"],
          Mounts: [{ Type: "tmpfs", Target: "/tmp" }],
        },
        Resources: { Limits: { MemoryBytes: 256 * 1024 * 1024, NanoCPUs: 5e8, Pids: 64 } },
        RestartPolicy: { Condition: "none" },
        Networks: [{ Target: `berth-${ID}-swarm`, Aliases: [SERVER_ALIAS] }],
      },
    });
    expect(options.EndpointSpec?.Ports).toBeUndefined();
    const container = (options.TaskTemplate as { ContainerSpec: Record<string, unknown> })
      .ContainerSpec;
    expect(container.Command).toBeUndefined();
    expect(container.Secrets).toBeUndefined();
  });

  it("keeps an stdio server's stdin open and runs the spec's command", () => {
    const options = serviceSpec(
      { instanceId: ID, generation: 1, spec: spec({ command: ["node", "s.js"] }) },
      { name: "n", labels: {}, imageId: "sha256:abc", network: "net", user: "1000" },
    );
    const container = (options.TaskTemplate as { ContainerSpec: Record<string, unknown> })
      .ContainerSpec;
    expect(container).toMatchObject({ OpenStdin: true, TTY: false, Command: ["node", "s.js"] });
  });

  it("hands secrets over as a Swarm secret file the launcher reads, never as values", () => {
    const request = {
      instanceId: ID,
      generation: 2,
      spec: spec({ transport: "http", port: 3001, user: "1000:2000" }),
      secretEnv: { TOKEN: "s3cret-value" },
    };
    const options = serviceSpec(request, {
      name: serviceName(ID, 2),
      labels: {},
      imageId: "sha256:abc",
      network: "net",
      user: "1000:2000",
      launcher: {
        config: { id: "cfg1", name: launcherConfigName(ID, 2) },
        secret: { id: "sec1", name: secretName(ID, 2) },
        entrypoint: ["/usr/bin/node", LAUNCHER_TARGET],
        cmd: ["/app/index.js"],
      },
    });
    expect(options.TaskTemplate).toMatchObject({
      ContainerSpec: {
        Command: ["/usr/bin/node", LAUNCHER_TARGET],
        Args: ["/app/index.js"],
        Env: [`BERTH_SECRETS_FILE=${SECRETS_FILE}`],
        Configs: [
          {
            ConfigID: "cfg1",
            ConfigName: `berth-${ID}-g2-launcher`,
            File: { Name: LAUNCHER_TARGET, Mode: 0o444 },
          },
        ],
        Secrets: [
          {
            SecretID: "sec1",
            SecretName: `berth-${ID}-g2-env`,
            File: { Name: "berth-env", UID: "1000", GID: "2000", Mode: 0o400 },
          },
        ],
      },
    });
    expect(JSON.stringify(options)).not.toContain("s3cret-value");
  });

  it("names every object within Swarm's limits for a UUID instance and a large generation", () => {
    for (const name of [
      serviceName(ID, 99_999),
      secretName(ID, 99_999),
      launcherConfigName(ID, 99_999),
    ]) {
      expect(name.length, name).toBeLessThanOrEqual(63);
    }
    expect(swarmGuardName(ID, 1)).not.toBe(`berth-${ID}-g1-guard`); // the Docker driver's
  });
});
