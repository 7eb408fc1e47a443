import { isObject, parseSecretRef } from "@berth/spec";
import type { JsonObject } from "@bufbuild/protobuf";
import { stableJson } from "./instance-fields.js";

/**
 * Fields that decide where a sealed value goes. A url instance sends its references to the
 * endpoint; a container hands its environment to whatever image, command, args and user run.
 * (A docker spec's `command` is the container's entrypoint.)
 */
const ROUTE_FIELDS: Record<string, readonly string[]> = {
  url: ["endpoint"],
  docker: ["image", "command", "args", "user"],
};

/** One change that would deliver sealed values somewhere new. */
export interface Reroute {
  /** Field path inside json_spec, e.g. `endpoint` or `headers.x-key`. */
  field: string;
  /** The secret names it would deliver. */
  names: string[];
}

/** The secret names referenced by a spec, by where they sit (`environment.X`, `headers.h`, …). */
function refsByPlace(spec: JsonObject): Map<string, string> {
  const places = new Map<string, string>();
  const scan = (record: unknown, prefix: string) => {
    if (!isObject(record)) return;
    for (const [key, value] of Object.entries(record)) {
      const ref = typeof value === "string" ? parseSecretRef(value) : undefined;
      if (ref) places.set(`${prefix}.${key}`, ref.name);
    }
  };
  scan(spec.environment, "environment");
  scan(spec.headers, "headers");
  if (isObject(spec.authentication)) scan({ token: spec.authentication.token }, "authentication");
  if (isObject(spec.delegation))
    scan({ client_secret: spec.delegation.client_secret }, "delegation");
  return places;
}

/**
 * What a spec change would reroute: every sealed value the new spec references when a routing
 * field changes (or the type does), and a value that moves into a header or authentication slot
 * where it was not before. Values supplied again with the change are the caller's to subtract.
 */
export function reroutedSecrets(before: JsonObject, after: JsonObject): Reroute[] {
  const now = refsByPlace(after);
  if (now.size === 0) return [];
  const names = [...new Set(now.values())].sort();
  if (before.type !== after.type) return [{ field: "type", names }];
  const reroutes: Reroute[] = [];
  for (const field of ROUTE_FIELDS[String(after.type)] ?? []) {
    if (stableJson(before[field]) !== stableJson(after[field])) reroutes.push({ field, names });
  }
  // A delegation's client secret goes to the authorization server it names (else the one the
  // endpoint's metadata names: the endpoint is a routing field already).
  const issuer = (spec: JsonObject) =>
    isObject(spec.delegation) ? spec.delegation.authorization_server : undefined;
  if (stableJson(issuer(before)) !== stableJson(issuer(after)))
    reroutes.push({ field: "delegation.authorization_server", names });
  const then = refsByPlace(before);
  for (const [place, name] of now) {
    if (!place.startsWith("environment.") && then.get(place) !== name)
      reroutes.push({ field: place, names: [name] });
  }
  return reroutes;
}
