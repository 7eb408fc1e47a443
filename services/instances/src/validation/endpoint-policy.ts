import { BlockList, isIP } from "node:net";

/** Which kinds of url endpoint addresses an operator allows. */
export interface EndpointPolicy {
  allowLoopback: boolean;
  allowPrivate: boolean;
}

/** What an endpoint host is, for the policy. */
export type HostClass = "public" | "loopback" | "private" | "link-local" | "metadata" | "forbidden";

function blockList(v4: string[], v6: string[]): BlockList {
  const list = new BlockList();
  for (const net of v4) list.addSubnet(net.split("/")[0]!, Number(net.split("/")[1]), "ipv4");
  for (const net of v6) list.addSubnet(net.split("/")[0]!, Number(net.split("/")[1]), "ipv6");
  return list;
}

const METADATA_IPS = new Set([
  "169.254.169.254",
  "169.254.170.2",
  "100.100.100.200",
  "fd00:ec2::254",
]);
const METADATA_NAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
]);
const LOOPBACK = blockList(["127.0.0.0/8"], ["::1/128"]);
const LINK_LOCAL = blockList(["169.254.0.0/16"], ["fe80::/10"]);
const PRIVATE = blockList(
  ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"],
  ["fc00::/7"],
);
// Unspecified, "this network", multicast, reserved and broadcast: never a server to talk to.
const FORBIDDEN = blockList(["0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4"], ["::/128", "ff00::/8"]);

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d or its hex form) as plain IPv4, else as given. */
function unmap(ip: string): string {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (dotted) return dotted[1]!;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (!hex) return ip;
  const [high, low] = [Number.parseInt(hex[1]!, 16), Number.parseInt(hex[2]!, 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join(".");
}

/** Classifies a URL hostname (IP literals by range; names only when they are well-known). */
export function classifyHost(hostname: string): HostClass {
  const host = unmap(
    hostname
      .replace(/^\[|\]$/g, "")
      .toLowerCase()
      .replace(/\.$/, ""),
  );
  if (METADATA_NAMES.has(host) || METADATA_IPS.has(host)) return "metadata";
  if (host === "localhost" || host.endsWith(".localhost")) return "loopback";
  const family = isIP(host);
  if (family === 0) return "public";
  const type = family === 4 ? "ipv4" : "ipv6";
  if (FORBIDDEN.check(host, type)) return "forbidden";
  if (LOOPBACK.check(host, type)) return "loopback";
  if (LINK_LOCAL.check(host, type)) return "link-local";
  if (PRIVATE.check(host, type)) return "private";
  return "public";
}

/** Why a url endpoint is refused under the policy, or undefined when it is allowed. */
export function endpointProblem(url: URL, policy: EndpointPolicy): string | undefined {
  const kind = classifyHost(url.hostname);
  switch (kind) {
    case "public":
      return undefined;
    case "loopback":
      return policy.allowLoopback
        ? undefined
        : "points at a loopback address (BERTH_ALLOW_LOOPBACK_ENDPOINTS is false)";
    case "forbidden":
      return "points at an unspecified, multicast or reserved address";
    default:
      return policy.allowPrivate
        ? undefined
        : `points at a ${kind} address (allowed only with BERTH_ALLOW_PRIVATE_ENDPOINTS=true)`;
  }
}
