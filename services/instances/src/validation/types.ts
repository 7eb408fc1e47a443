import type { EnvVarSchema } from "@berth/proto/gen/berth/registry/v1/registry_pb";

/** What the secret-aware parts of spec building share. */
export interface SecretContext {
  instanceId: string;
  /** Write-only values from the request, by name (`secrets` field). */
  given: Readonly<Record<string, string>>;
  /** Field path of the given values, e.g. `secrets`. */
  givenAt: string;
  /** Names already stored for this instance (on update). */
  stored: ReadonlySet<string>;
  /** Values to store, filled while building: name → plaintext. */
  toStore: Map<string, string>;
}

/** The env_schema of the catalog entry, when there is one. */
export interface CatalogSchema {
  serverName: string;
  variables: readonly EnvVarSchema[];
}
