import type Docker from "dockerode";
import type { DockerSpec } from "../../spec/types.js";
import { PermanentStartError, type WorkloadRequest } from "../types.js";

/** The user containers run as unless the spec names another. */
export const NOBODY = "65534:65534";

/** The user to run as: the spec's, else nobody (never the image's, which may be root). */
export function containerUser(specUser: string | undefined): string {
  return specUser || NOBODY;
}

/** Where the secret launcher is mounted in a container. */
export const LAUNCHER_TARGET = "/berth/launch.cjs";

/**
 * How secret values reach a container: a launcher script (launcher/berth-launch.cjs) mounted
 * read-only, run by the server's own node, reads one line of JSON (`{"env":{…}}`) from stdin,
 * puts it into the environment and runs the server's script in the same process. The values
 * reach the server without appearing in `docker inspect`, Docker's files on disk, an image layer
 * or any argv. It needs a server started by node (the entrypoint's program is named `node`);
 * undefined otherwise, and the caller refuses to start rather than fall back to the environment.
 */
export function launchedArgv(
  spec: DockerSpec,
  image: Docker.ImageInspectInfo | undefined,
): { entrypoint: string[]; cmd: string[] } | undefined {
  const argv = serverArgv(spec, image);
  const program = argv[0];
  if (program?.split("/").pop() !== "node") return undefined;
  return { entrypoint: [program, LAUNCHER_TARGET], cmd: argv.slice(1) };
}

/**
 * The launcher's argv when secret values are to be delivered (undefined without secrets);
 * refuses an image whose server is not started by node rather than fall back to the environment.
 */
export function launcherArgv(
  spec: DockerSpec,
  image: Docker.ImageInspectInfo | undefined,
  secretEnv: Record<string, string>,
): { entrypoint: string[]; cmd: string[] } | undefined {
  if (Object.keys(secretEnv).length === 0) return undefined;
  const argv = launchedArgv(spec, image);
  if (!argv) {
    throw new PermanentStartError(
      `image ${spec.image} does not start its server with node: Berth delivers secret values only through its launcher, never in the container's environment`,
    );
  }
  return argv;
}

/** The container port of an http server (the spec's, else the image's only exposed port). */
export function serverPort(
  spec: DockerSpec,
  image: Docker.ImageInspectInfo | undefined,
): number | undefined {
  if (spec.transport !== "http") return undefined;
  const exposed = Object.keys(image?.Config?.ExposedPorts ?? {});
  const port = spec.port ?? (exposed.length === 1 ? Number.parseInt(exposed[0]!, 10) : undefined);
  if (!port) {
    throw new PermanentStartError(
      `json_spec.port is required: image ${spec.image} does not expose exactly one port`,
    );
  }
  return port;
}

/** The line the launcher reads. */
export function secretsLine(env: Record<string, string>): string {
  return `${JSON.stringify({ env })}\n`;
}

/** The name an HTTP server answers to on its instance's network (its guard dials it). */
export const SERVER_ALIAS = "mcp";

/** The port the port guard listens on inside its container (published on 127.0.0.1). */
export const GUARD_PORT = 8080;

/** Inputs of containerOptions besides the request. */
export interface ContainerContext {
  name: string;
  labels: Record<string, string>;
  network: string;
  user: string;
  /** The container port of an http server (undefined for stdio): reached only by its guard. */
  port?: number;
  /** The secret launcher on the host and the server's argv through it (see launchedArgv). */
  launcher?: { hostPath: string; entrypoint: string[]; cmd: string[] };
}

/** The server's argv as Docker would run it: entrypoint then cmd, the spec overriding either. */
function serverArgv(spec: DockerSpec, image: Docker.ImageInspectInfo | undefined): string[] {
  const entrypoint = spec.command ?? asList(image?.Config?.Entrypoint);
  // Docker drops the image's CMD when the entrypoint is overridden.
  const cmd = spec.args ?? (spec.command ? [] : asList(image?.Config?.Cmd));
  return [...entrypoint, ...cmd];
}

function asList(value: string | string[] | null | undefined): string[] {
  if (!value) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * The create options of a hardened container: limits, all capabilities dropped,
 * no-new-privileges, read-only root with a tmpfs /tmp, pids limit, no network for stdio servers
 * and the instance's own network for http ones (internal unless the catalog entry asks for
 * egress), where the server answers as SERVER_ALIAS; nothing is published (its port guard is),
 * stdin kept open for stdio servers, secrets only through the image's launcher.
 */
export function containerOptions(
  request: WorkloadRequest<DockerSpec>,
  context: ContainerContext,
): Docker.ContainerCreateOptions {
  const { spec } = request;
  const stdio = spec.transport === "stdio";
  const launched = context.launcher !== undefined;
  const openStdin = stdio || launched;
  const portKey = context.port ? `${context.port}/tcp` : undefined;
  const program = launched
    ? { Entrypoint: context.launcher!.entrypoint, Cmd: context.launcher!.cmd }
    : {
        ...(spec.command ? { Entrypoint: spec.command } : {}),
        ...(spec.args ? { Cmd: spec.args } : {}),
      };
  return {
    name: context.name,
    Image: spec.image,
    ...program,
    Env: Object.entries(spec.environment).map(([key, value]) => `${key}=${value}`),
    Labels: context.labels,
    User: context.user,
    Tty: false,
    OpenStdin: openStdin,
    // A stdio server's stdin stays open when the runtime's attachment ends, so a restarted
    // runtime re-attaches to the same process (reconciliation removes servers nobody owns). An
    // http server's stdin carries only the secrets line and closes after it.
    StdinOnce: openStdin && !stdio,
    AttachStdin: openStdin,
    AttachStdout: stdio,
    AttachStderr: stdio,
    ...(portKey ? { ExposedPorts: { [portKey]: {} } } : {}),
    ...(stdio
      ? {}
      : {
          NetworkingConfig: {
            EndpointsConfig: { [context.network]: { Aliases: [SERVER_ALIAS] } },
          },
        }),
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
      ...(context.launcher
        ? {
            Mounts: [
              {
                Type: "bind" as const,
                Source: context.launcher.hostPath,
                Target: LAUNCHER_TARGET,
                ReadOnly: true,
              },
            ],
          }
        : {}),
      // The runtime restarts crashed containers itself, with backoff, and reports it.
      RestartPolicy: { Name: "no" },
      LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } },
    },
  };
}

/** Inputs of guardOptions. */
export interface GuardContext {
  name: string;
  labels: Record<string, string>;
  image: string;
  /** The edge network the guard publishes from (it joins the server's network after create). */
  network: string;
  /** The server's container port, dialled as SERVER_ALIAS. */
  upstreamPort: number;
}

/**
 * The create options of an HTTP server's port guard (deploy/images/guard): the only published
 * port of the instance, on 127.0.0.1. Hardened like a server; its credential arrives on stdin
 * (StdinOnce), so it is in no environment, argv or `docker inspect`.
 */
export function guardOptions(context: GuardContext): Docker.ContainerCreateOptions {
  const portKey = `${GUARD_PORT}/tcp`;
  return {
    name: context.name,
    Image: context.image,
    Env: [`GUARD_PORT=${GUARD_PORT}`, `UPSTREAM=${SERVER_ALIAS}:${context.upstreamPort}`],
    Labels: context.labels,
    User: NOBODY,
    Tty: false,
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: false,
    AttachStderr: false,
    ExposedPorts: { [portKey]: {} },
    HostConfig: {
      Memory: 64 * 1024 * 1024,
      MemorySwap: 64 * 1024 * 1024,
      PidsLimit: 32,
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      NetworkMode: context.network,
      PortBindings: { [portKey]: [{ HostIp: "127.0.0.1", HostPort: "" }] },
      RestartPolicy: { Name: "no" },
      LogConfig: { Type: "json-file", Config: { "max-size": "1m", "max-file": "1" } },
    },
  };
}
