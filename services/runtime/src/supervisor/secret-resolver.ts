import { createServiceClient } from "@berth/platform";
import { InstanceSecretsService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import type { Interceptor } from "@connectrpc/connect";

/** Fetches an instance's secret values from the instances service, at start, into memory only. */
export interface SecretResolver {
  resolve(instanceId: string, generation: number): Promise<Record<string, string>>;
}

/** Adds the runtime's service credential to every call. */
function bearer(token: string): Interceptor {
  return (next) => async (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}

/** A resolver calling InstanceSecretsService.ResolveInstanceSecrets with the runtime's token. */
export function createSecretResolver(address: string, token: string): SecretResolver {
  const client = createServiceClient(InstanceSecretsService, address, {
    defaultTimeoutMs: 5_000,
    interceptors: [bearer(token)],
  });
  return {
    async resolve(instanceId, generation) {
      const response = await client.resolveInstanceSecrets({
        instanceId,
        generation: BigInt(generation),
      });
      return { ...response.values };
    },
  };
}
