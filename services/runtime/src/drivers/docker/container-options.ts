import type Docker from "dockerode";
import type { DockerSpec } from "../../spec/types.js";
import type { WorkloadRequest } from "../types.js";

/** The user containers run as when neither the spec nor the image names a non-root one. */
export const NOBODY = "65534:65534";

const ROOT_USERS = new Set(["", "0", "root", "0:0", "root:root", "root:0", "0:root"]);

/** The user to run as: the spec's, else the image's when it is not root, else nobody. */
export function containerUser(specUser: string | undefined, imageUser: string | undefined): string {
  if (specUser) return specUser;
  if (imageUser && !ROOT_USERS.has(imageUser.trim())) return imageUser;
  return NOBODY;
}

/** Inputs of containerOptions besides the request. */
export interface ContainerContext {
  name: string;
  labels: Record<string, string>;
  network: string;
  user: string;
  /** The container port of an http server (undefined for stdio). */
  port?: number;
}

/**
 * The create options of a hardened container: limits, all capabilities dropped,
 * no-new-privileges, read-only root with a tmpfs /tmp, pids limit, its own network, the http
 * port published on 127.0.0.1 only, and stdin kept open for stdio servers.
 */
export function containerOptions(
  request: WorkloadRequest<DockerSpec>,
  context: ContainerContext,
): Docker.ContainerCreateOptions {
  const { spec } = request;
  const stdio = spec.transport === "stdio";
  const portKey = context.port ? `${context.port}/tcp` : undefined;
  return {
    name: context.name,
    Image: spec.image,
    ...(spec.command ? { Entrypoint: spec.command } : {}),
    ...(spec.args ? { Cmd: spec.args } : {}),
    Env: Object.entries(spec.environment).map(([key, value]) => `${key}=${value}`),
    Labels: context.labels,
    User: context.user,
    Tty: false,
    OpenStdin: stdio,
    // stdin closes when the runtime's attachment ends, so a dead runtime leaves no server behind.
    StdinOnce: stdio,
    AttachStdin: stdio,
    AttachStdout: stdio,
    AttachStderr: stdio,
    ...(portKey ? { ExposedPorts: { [portKey]: {} } } : {}),
    HostConfig: {
      Memory: spec.resources.memoryBytes,
      MemorySwap: spec.resources.memoryBytes,
      NanoCpus: spec.resources.nanoCpus,
      PidsLimit: spec.resources.pidsLimit,
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": "rw,noexec,nosuid,size=64m" },
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      NetworkMode: context.network,
      ...(portKey ? { PortBindings: { [portKey]: [{ HostIp: "127.0.0.1", HostPort: "" }] } } : {}),
      // The runtime restarts crashed containers itself, with backoff, and reports it.
      RestartPolicy: { Name: "no" },
      LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } },
    },
  };
}
