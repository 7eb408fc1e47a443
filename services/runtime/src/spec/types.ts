/** How often and how patiently the MCP health probe runs. */
export interface HealthSpec {
  intervalMs: number;
  timeoutMs: number;
}

/** Container limits; every field has a default. */
export interface ResourceSpec {
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
}

/** A container workload (json_spec type "docker"). */
export interface DockerSpec {
  type: "docker";
  image: string;
  transport: "stdio" | "http";
  /** Container port of an http server; undefined means the image's only exposed port. */
  port?: number;
  path: string;
  command?: string[];
  args?: string[];
  /** Values may be `secret_ref:<instance>:<NAME>` until resolved. */
  environment: Record<string, string>;
  resources: ResourceSpec;
  /** Overrides the user the container runs as (default: the image's non-root user, else 65534). */
  user?: string;
  health: HealthSpec;
}

/** A remote MCP server that is watched, not run (json_spec type "url"). */
export interface UrlSpec {
  type: "url";
  endpoint: string;
  /** Values may be secret references until resolved. */
  headers: Record<string, string>;
  /** A bearer token (usually a secret reference) sent as `authorization`. */
  bearerToken?: string;
  health: HealthSpec;
}

/** The runtime configuration of an instance, self-describing by type. */
export type RuntimeSpec = DockerSpec | UrlSpec;

/** The outcome of reading a json_spec: the spec, or a message naming the bad fields. */
export type ParsedSpec = { ok: true; spec: RuntimeSpec } | { ok: false; message: string };
