import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * Which url endpoint addresses an operator allows. Everything else that is not a public unicast
 * address (unspecified, multicast, broadcast, reserved, documentation, tunnels) is never allowed.
 */
export interface AddressPolicy {
  /** 127.0.0.0/8, ::1 and names under localhost (BERTH_ALLOW_LOOPBACK_ENDPOINTS). */
  allowLoopback: boolean;
  /** Private, CGNAT, unique-local, link-local and cloud metadata (BERTH_ALLOW_PRIVATE_ENDPOINTS). */
  allowPrivate: boolean;
}

/** What an address (or a well-known name) is, for the policy. */
export type AddressClass =
  | "public"
  | "loopback"
  | "private"
  | "link-local"
  | "metadata"
  | "forbidden";

const METADATA_IPS = new Set([
  "169.254.169.254",
  "169.254.170.2",
  "169.254.169.123",
  "100.100.100.200",
  "192.0.0.192",
  "fd00:ec2::254",
]);
const METADATA_NAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
]);

const V4_CLASSES: Record<string, AddressClass> = {
  unicast: "public",
  loopback: "loopback",
  private: "private",
  carrierGradeNat: "private",
  linkLocal: "link-local",
};
const V6_CLASSES: Record<string, AddressClass> = {
  unicast: "public",
  loopback: "loopback",
  uniqueLocal: "private",
  deprecatedSiteLocal: "private",
  linkLocal: "link-local",
};

const NAT64_LOCAL = ipaddr.IPv6.parse("64:ff9b:1::");
const ORDER: AddressClass[] = [
  "public",
  "loopback",
  "private",
  "link-local",
  "metadata",
  "forbidden",
];

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any. */
function embeddedV4(address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = address.parts;
  const low = () => new ipaddr.IPv4([p[6]! >> 8, p[6]! & 255, p[7]! >> 8, p[7]! & 255]);
  const range = address.range();
  if (range === "ipv4Mapped" || range === "rfc6145") return low();
  // IPv4-compatible (::a.b.c.d, deprecated but still routed by some stacks); not :: or ::1.
  if (p.slice(0, 6).every((part) => part === 0) && (p[6]! !== 0 || p[7]! > 1)) return low();
  if (range === "rfc6052" && !address.match(NAT64_LOCAL, 48)) return low();
  if (range === "6to4") return new ipaddr.IPv4([p[1]! >> 8, p[1]! & 255, p[2]! >> 8, p[2]! & 255]);
  return undefined;
}

/**
 * Classifies an IP address (v4 or v6, without brackets). An IPv6 address that carries an IPv4
 * address is judged by it; Teredo and local-use NAT64 (64:ff9b:1::/48) cannot be read safely and
 * are refused; anything that is not a listed range or public unicast is `forbidden`.
 */
export function classifyAddress(ip: string): AddressClass {
  const text = ip.replace(/^\[|\]$/g, "").toLowerCase();
  if (isIP(text) === 0 || !ipaddr.isValid(text)) return "forbidden";
  const address = ipaddr.parse(text.replace(/%.*$/, ""));
  if (address.kind() === "ipv6") {
    const v6 = address as ipaddr.IPv6;
    const v4 = embeddedV4(v6);
    if (v4) return classifyAddress(v4.toString());
    if (METADATA_IPS.has(v6.toNormalizedString()) || METADATA_IPS.has(v6.toString()))
      return "metadata";
    if (v6.range() === "rfc6052") return "private"; // local-use NAT64: a site's own translator
    return V6_CLASSES[v6.range()] ?? "forbidden";
  }
  const v4 = address as ipaddr.IPv4;
  if (METADATA_IPS.has(v4.toString())) return "metadata";
  return V4_CLASSES[v4.range()] ?? "forbidden";
}

/** Classifies a URL hostname: IP literals by range, names only when they are well known. */
export function classifyHost(hostname: string): AddressClass | "name" {
  const host = hostname
    .replace(/^\[|\]$/g, "")
    .toLowerCase()
    .replace(/\.$/, "");
  if (isIP(host) !== 0) return classifyAddress(host);
  if (METADATA_NAMES.has(host)) return "metadata";
  if (host === "localhost" || host.endsWith(".localhost")) return "loopback";
  return "name";
}

/** Why an address class is refused under the policy, or undefined when it is allowed. */
export function classProblem(
  kind: AddressClass | "name",
  policy: AddressPolicy,
): string | undefined {
  switch (kind) {
    case "public":
    case "name":
      return undefined;
    case "loopback":
      return policy.allowLoopback
        ? undefined
        : "a loopback address (allowed only with BERTH_ALLOW_LOOPBACK_ENDPOINTS=true)";
    case "forbidden":
      return "an unspecified, multicast, reserved or tunnelled address";
    default:
      return policy.allowPrivate
        ? undefined
        : `a ${kind} address (allowed only with BERTH_ALLOW_PRIVATE_ENDPOINTS=true)`;
  }
}

/** Whether Berth may not connect to this IP address under the policy. */
export function isForbiddenAddress(ip: string, policy: AddressPolicy): boolean {
  return classProblem(classifyAddress(ip), policy) !== undefined;
}

/** The worst class of several, for reports. */
export function worstClass(kinds: AddressClass[]): AddressClass {
  return kinds.reduce<AddressClass>(
    (a, b) => (ORDER.indexOf(b) > ORDER.indexOf(a) ? b : a),
    "public",
  );
}
