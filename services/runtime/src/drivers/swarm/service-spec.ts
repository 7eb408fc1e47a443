import type Docker from "dockerode";
import type { DockerSpec } from "../../spec/types.js";
import { LAUNCHER_TARGET, SERVER_ALIAS } from "../docker/container-options.js";
import type { WorkloadRequest } from "../types.js";

// The Swarm objects of one instance. Each name fits Swarm's 63/64-character limits for a UUID
// instance id; none is shared with the Docker driver's objects on the same engine.

/** The Swarm service of an instance's generation (one replica). */
export function serviceName(instanceId: string, generation: number): string {
  return `berth-${instanceId}-g${generation}`;
}

/** The instance's attachable overlay network: the server's only network. */
export function overlayName(instanceId: string): string {
  return `berth-${instanceId}-swarm`;
}

/** The bridge network from which an http server's port guard publishes on 127.0.0.1. */
export function swarmEdgeName(instanceId: string): string {
  return `berth-${instanceId}-swarm-edge`;
}

/** The port guard (a plain container) of an instance's generation. */
export function swarmGuardName(instanceId: string, generation: number): string {
  return `berth-${instanceId}-g${generation}-swarm-guard`;
}

/** The Swarm secret holding a generation's secrets line (`{"env":{…}}`). */
export function secretName(instanceId: string, generation: number): string {
  return `berth-${instanceId}-g${generation}-env`;
}

/** The Swarm config carrying the launcher script into a generation's task. */
export function launcherConfigName(instanceId: string, generation: number): string {
  return `berth-${instanceId}-g${generation}-launcher`;
}

/** Where the secrets line is mounted in the task's container (a tmpfs the engine fills). */
export const SECRETS_FILE = "/run/secrets/berth-env";

/** Inputs of serviceSpec besides the request. */
export interface ServiceContext {
  name: string;
  labels: Record<string, string>;
  /** The image by its ID: Swarm then neither asks a registry for a digest nor pulls. */
  imageId: string;
  /** The instance's overlay network. */
  network: string;
  user: string;
  /** The launcher config and the secret, by ID and name, with the server's argv through it. */
  launcher?: {
    config: { id: string; name: string };
    secret: { id: string; name: string };
    entrypoint: string[];
    cmd: string[];
  };
}

/** 64 MiB: the size of the writable /tmp, as the Docker driver's tmpfs. */
const TMP_BYTES = 64 * 1024 * 1024;

/**
 * The create spec of an instance's Swarm service: one replica that Swarm never restarts (Berth's
 * supervisor decides, with its backoff, and reports it), limits from json_spec, the Docker
 * driver's hardening (non-root user, read-only root with a tmpfs /tmp, every capability dropped,
 * pids limit; no-new-privileges is asked for but only engines from API 1.44 apply it), stdin kept
 * open for stdio servers, only the instance's overlay network (internal unless the catalog entry
 * asks for egress) where the server answers as SERVER_ALIAS, no published port (dnsrr: no virtual
 * IP, no ingress). Secret values are in a Swarm secret mounted as a file the launcher reads; the
 * spec holds only names, IDs and the file's path.
 */
export function serviceSpec(
  request: WorkloadRequest<DockerSpec>,
  context: ServiceContext,
): Docker.CreateServiceOptions {
  const { spec } = request;
  const { launcher } = context;
  const program = launcher
    ? { Command: launcher.entrypoint, Args: launcher.cmd }
    : {
        ...(spec.command ? { Command: spec.command } : {}),
        ...(spec.args ? { Args: spec.args } : {}),
      };
  const env = Object.entries(spec.environment).map(([key, value]) => `${key}=${value}`);
  const uid = context.user.split(":")[0] ?? "";
  const numericUser = /^\d+$/.test(uid);
  const gid = context.user.split(":")[1] ?? uid;
  return {
    Name: context.name,
    Labels: context.labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: context.imageId,
        ...program,
        Env: launcher ? [...env, `BERTH_SECRETS_FILE=${SECRETS_FILE}`] : env,
        Labels: context.labels,
        User: context.user,
        TTY: false,
        OpenStdin: spec.transport === "stdio",
        ReadOnly: true,
        Mounts: [
          {
            Type: "tmpfs",
            Source: "",
            Target: "/tmp",
            TmpfsOptions: { SizeBytes: TMP_BYTES, Mode: 0o1777 },
          },
        ],
        CapabilityDrop: ["ALL"],
        // Read by engines from API 1.44 (Docker 25); older ones ignore the field.
        Privileges: { NoNewPrivileges: true } as Docker.Privileges,
        StopGracePeriod: 2_000_000_000,
        ...(launcher
          ? {
              Configs: [
                {
                  ConfigID: launcher.config.id,
                  ConfigName: launcher.config.name,
                  File: { Name: LAUNCHER_TARGET, UID: "0", GID: "0", Mode: 0o444 },
                },
              ],
              Secrets: [
                {
                  SecretID: launcher.secret.id,
                  SecretName: launcher.secret.name,
                  // Readable by the server's user only; any other user can read it only when the
                  // spec names its user by name (no number to give the file).
                  File: numericUser
                    ? { Name: "berth-env", UID: uid, GID: gid, Mode: 0o400 }
                    : { Name: "berth-env", UID: "0", GID: "0", Mode: 0o444 },
                },
              ],
            }
          : {}),
      },
      Resources: {
        Limits: {
          MemoryBytes: spec.resources.memoryBytes,
          NanoCPUs: spec.resources.nanoCpus,
          Pids: spec.resources.pidsLimit,
        },
      },
      RestartPolicy: { Condition: "none", MaxAttempts: 0 },
      Networks: [{ Target: context.network, Aliases: [SERVER_ALIAS] }],
      LogDriver: { Name: "json-file", Options: { "max-size": "10m", "max-file": "3" } },
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: "dnsrr" },
  };
}
