/** An instance as the proxy knows it: its id and name (an allow-list may name either). */
export interface InstanceIdentity {
  readonly id: string;
  readonly name: string;
  /** The owning team (when read from the instances service). */
  readonly team?: string;
}

/** Where an instance's MCP traffic goes now, and the headers to add (its own credential). */
export interface McpEndpoint {
  readonly instanceId: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly generation: bigint;
  /** The runtime's driver of the workload: "url" for remote upstreams, "docker" for containers. */
  readonly driver?: string;
}

/** Finds instances and their endpoints, with a short cache dropped when an instance changes. */
export interface InstanceResolver {
  /** The instance named by an id or a name; throws McpProxyError 404 when there is none. */
  identify(ref: string): Promise<InstanceIdentity>;
  /** Its endpoint; throws McpProxyError 503 when it is not running. */
  endpoint(instance: InstanceIdentity): Promise<McpEndpoint>;
  /** Forgets what is cached about one instance (it changed, or its endpoint failed). */
  invalidate(instanceId: string): void;
}

/** A failure the proxy answers itself, as a JSON-RPC error with an HTTP status. */
export class McpProxyError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "McpProxyError";
  }
}
