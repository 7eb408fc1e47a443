import { createHmac } from "node:crypto";
import type Docker from "dockerode";
import { ensureBridgeNetwork } from "./bridge-network.js";
import { attachStdinOnly, inspectImage, removeContainer } from "./container-io.js";
import { GUARD_PORT, guardOptions } from "./container-options.js";
import { dockerStatus } from "./docker-client.js";

/**
 * The credential of one instance generation's port guard: an HMAC over instance and generation
 * with the runtime's guard key, so it is stable across runtime restarts (adopted guards keep
 * working) and a new key rotates every credential.
 */
export function guardCredential(key: string, instanceId: string, generation: number): string {
  return createHmac("sha256", key)
    .update(`berth-guard\0${instanceId}\0${generation}`)
    .digest("hex");
}

/** What startPortGuard starts. */
export interface PortGuardRequest {
  /** The guard container's name and labels. */
  name: string;
  labels: Record<string, string>;
  image: string;
  /** The bridge network the guard publishes from (made here, with edgeLabels). */
  edgeNetwork: string;
  edgeLabels: Record<string, string>;
  /** The server's network, joined after create: a bridge, or an attachable Swarm overlay. */
  serverNetwork: string;
  /** The server's port, dialled as SERVER_ALIAS on serverNetwork. */
  upstreamPort: number;
  credential: string;
  signal: AbortSignal;
}

/**
 * Starts the port guard of an http server (deploy/images/guard): a plain container on its edge
 * network, whose one port is published on 127.0.0.1, joined to the server's network where it
 * dials the server by alias (container-to-container traffic inside a Docker network). The
 * credential goes in on stdin, so it is in no environment, argv or `docker inspect`.
 */
export async function startPortGuard(
  docker: Docker,
  request: PortGuardRequest,
): Promise<Docker.Container> {
  const edge = await ensureBridgeNetwork(docker, {
    name: request.edgeNetwork,
    labels: request.edgeLabels,
    internal: false,
    masquerade: false,
  });
  const options = guardOptions({
    name: request.name,
    labels: request.labels,
    image: request.image,
    network: edge,
    upstreamPort: request.upstreamPort,
  });
  await inspectImage(docker, request.image);
  let guard: Docker.Container;
  try {
    guard = await docker.createContainer(options);
  } catch (error) {
    if (dockerStatus(error) !== 409) throw error;
    await removeContainer(docker, request.name);
    guard = await docker.createContainer(options);
  }
  try {
    await docker.getNetwork(request.serverNetwork).connect({ Container: guard.id });
    const send = await attachStdinOnly(guard, request.signal);
    await guard.start();
    await send(`${request.credential}\n`);
    return guard;
  } catch (error) {
    await removeContainer(docker, guard.id).catch(() => undefined);
    throw error;
  }
}

/** The loopback URL of a guard's published port, or undefined when it is not published. */
export function guardEndpoint(info: Docker.ContainerInspectInfo, path: string): string | undefined {
  const binding = info.NetworkSettings?.Ports?.[`${GUARD_PORT}/tcp`]?.find(
    (b) => b.HostIp === "127.0.0.1",
  );
  return binding?.HostPort ? `http://127.0.0.1:${binding.HostPort}${path}` : undefined;
}
