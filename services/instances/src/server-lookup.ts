import {
  Code,
  ConnectError,
  createServiceClient,
  type MeshIdentity,
  unavailable,
} from "@berth/platform";
import { type McpServer, RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";

/** Reads catalog entries from the registry over gRPC. */
export interface ServerLookup {
  /** The entry by id or name; undefined when the registry does not know it; UNAVAILABLE when it does not answer. */
  find(idOrName: string): Promise<McpServer | undefined>;
}

/** A lookup against the registry at host:port, calling as the instances service's identity. */
export function createServerLookup(
  address: string,
  identity: MeshIdentity,
  timeoutMs = 5_000,
): ServerLookup {
  const client = createServiceClient(RegistryService, address, {
    identity,
    defaultTimeoutMs: timeoutMs,
  });
  return {
    async find(idOrName) {
      try {
        return (await client.getServer({ id: idOrName })).server;
      } catch (error) {
        const code = ConnectError.from(error).code;
        if (code === Code.NotFound || code === Code.InvalidArgument) return undefined;
        throw unavailable("the registry is unavailable; nothing was written", error);
      }
    },
  };
}
