import type Docker from "dockerode";
import { dockerStatus, ignoreGone } from "./docker-client.js";

/** What ensureBridgeNetwork makes. */
export interface BridgeNetwork {
  name: string;
  labels: Record<string, string>;
  /** Docker drops its traffic to other networks, and the host gets no address on it. */
  internal: boolean;
  /** Traffic leaving through the host is masqueraded (a route out). */
  masquerade: boolean;
}

/**
 * A bridge network of an instance, (re)made with the wanted `internal` flag:
 * - a server's network: unless the catalog entry asks for egress (then a plain bridge),
 *   `internal` (Docker drops its traffic to other networks) and with no IPv4 address on the
 *   host's side of the bridge (`inhibit_ipv4`): Docker 20.10 still gives containers of an internal
 *   network a default route to the bridge's address, through which every address of the host
 *   answered (tested). Without that address nothing on the host is reachable, and the host has no
 *   route to the server's address either;
 * - a port guard's edge network, on which only the guard sits and publishes its port (Docker
 *   publishes no port of an internal network): no masquerading, so no route out.
 * Neither lets containers of other networks in. Returns the name.
 */
export async function ensureBridgeNetwork(docker: Docker, network: BridgeNetwork): Promise<string> {
  const { name, internal, masquerade } = network;
  const existing = await docker
    .getNetwork(name)
    .inspect()
    .catch((error: unknown) => {
      if (dockerStatus(error) === 404) return undefined;
      throw error;
    });
  const inhibited = existing?.Options?.["com.docker.network.bridge.inhibit_ipv4"] === "true";
  if (
    existing &&
    existing.Driver === "bridge" &&
    Boolean(existing.Internal) === internal &&
    inhibited === internal
  ) {
    return name;
  }
  if (existing) await ignoreGone(() => docker.getNetwork(name).remove());
  try {
    await docker.createNetwork({
      Name: name,
      Driver: "bridge",
      CheckDuplicate: true,
      Internal: internal,
      Labels: network.labels,
      Options: {
        "com.docker.network.bridge.enable_ip_masquerade": String(masquerade),
        "com.docker.network.bridge.enable_icc": "true",
        ...(internal ? { "com.docker.network.bridge.inhibit_ipv4": "true" } : {}),
      },
    });
  } catch (error) {
    if (dockerStatus(error) !== 409) throw error; // 409: made meanwhile, which is fine
  }
  return name;
}
