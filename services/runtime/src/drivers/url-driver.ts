import type { UrlSpec } from "../spec/types.js";
import type { WorkloadDriver, WorkloadHandle } from "./types.js";

/** Headers of a url instance: its own headers plus the bearer token as authorization. */
export function urlHeaders(spec: UrlSpec): Record<string, string> {
  const headers: Record<string, string> = { ...spec.headers };
  if (spec.bearerToken) headers.authorization = `Bearer ${spec.bearerToken}`;
  return headers;
}

/** The url driver: remote MCP servers are not started, only watched by the health probe. */
export function createUrlDriver(): WorkloadDriver<UrlSpec> {
  return {
    name: "url",
    async ensure(request): Promise<WorkloadHandle> {
      return {
        instanceId: request.instanceId,
        generation: request.generation,
        driver: "url",
        endpoint: request.spec.endpoint,
        headers: urlHeaders(request.spec),
        adopted: false,
        exited: new Promise<string>(() => {}), // a remote server is never "exited", only unhealthy
        restartable: false,
      };
    },
    remove: async () => {},
    inspect: async () => [],
    list: async () => [],
    collectGarbage: async () => 0,
    // A remote server's logs are not ours to read.
    logs: () => (async function* () {})(),
  };
}
