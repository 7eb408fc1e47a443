import { createServiceClient, type MeshIdentity } from "@berth/platform";
import { InstanceSecretsService } from "@berth/proto/gen/berth/instances/v1/instances_pb";

/** Fetches an instance's secret values from the instances service, at start, into memory only. */
export interface SecretResolver {
  resolve(instanceId: string, generation: number): Promise<Record<string, string>>;
}

/**
 * A resolver calling InstanceSecretsService.ResolveInstanceSecrets as the runtime's mesh identity
 * (the only one the instances service admits to it).
 */
export function createSecretResolver(address: string, identity: MeshIdentity): SecretResolver {
  const client = createServiceClient(InstanceSecretsService, address, {
    identity,
    defaultTimeoutMs: 5_000,
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
