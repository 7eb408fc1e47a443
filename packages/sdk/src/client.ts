import { ApiKeysService } from "@berth/proto/gen/berth/gateway/v1/api_keys_pb";
import { AuditService } from "@berth/proto/gen/berth/gateway/v1/audit_pb";
import { DeadLettersService } from "@berth/proto/gen/berth/gateway/v1/dead_letters_pb";
import { DelegationService } from "@berth/proto/gen/berth/gateway/v1/delegation_pb";
import { TeamsService } from "@berth/proto/gen/berth/gateway/v1/teams_pb";
import { UsersService } from "@berth/proto/gen/berth/gateway/v1/users_pb";
import { VirtualServersService } from "@berth/proto/gen/berth/gateway/v1/virtual_servers_pb";
import { InstancesService } from "@berth/proto/gen/berth/instances/v1/instances_pb";
import { RegistryService } from "@berth/proto/gen/berth/registry/v1/registry_pb";
import { RuntimeService } from "@berth/proto/gen/berth/runtime/v1/runtime_pb";
import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { apiKeyInterceptor, bearerTokenInterceptor } from "./interceptors.js";
import { requestIdInterceptor } from "./request-id.js";
import { type RetryOptions, retryInterceptor } from "./retry.js";
import { withBerthErrors } from "./with-berth-errors.js";

/** Options of createBerthClient. */
export interface BerthClientOptions {
  /** The gateway, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  /** An API key (`berth_…`); sent as a bearer token. */
  apiKey?: string;
  /**
   * An OAuth access token for the gateway (audience: the gateway's public URL), or a function
   * that returns a current one before each call (to refresh it); used when no apiKey is given.
   */
  accessToken?: string | (() => string | Promise<string>);
  /** Deadline of each call unless the call sets its own. */
  timeoutMs?: number;
  /** A fetch implementation (defaults to the global one: Node 18+, browsers). */
  fetch?: typeof globalThis.fetch;
  /** More interceptors, run after authentication. */
  interceptors?: Interceptor[];
  /**
   * Retries of calls answered UNAVAILABLE (503): reads, and writes with a request id (default:
   * 4 attempts, jittered exponential backoff, Retry-After honoured); false turns them off.
   */
  retry?: RetryOptions | false;
  /**
   * Fill the request_id of every write that has one with a fresh UUID when the caller left it
   * empty, so a retried write is done once (default true).
   */
  requestIds?: boolean;
}

/** Typed clients for every public Berth service, sharing one transport. */
export interface BerthClient {
  registry: Client<typeof RegistryService>;
  instances: Client<typeof InstancesService>;
  runtime: Client<typeof RuntimeService>;
  apiKeys: Client<typeof ApiKeysService>;
  /** Teams and their members: instances, virtual servers and keys belong to a team. */
  teams: Client<typeof TeamsService>;
  /** People who sign in to the embedded authorization server (admin). */
  users: Client<typeof UsersService>;
  /** Virtual servers: several instances as one MCP endpoint, /mcp/v/{name}. */
  virtualServers: Client<typeof VirtualServersService>;
  /**
   * The signed-in person's own accounts at url instances' upstreams (json_spec.delegation):
   * connect (an authorization URL to open), status, disconnect. Needs an OAuth access token.
   */
  delegation: Client<typeof DelegationService>;
  /** Events consumers refused (admin). */
  deadLetters: Client<typeof DeadLettersService>;
  /** Who called what through the gateway, and who changed what (admin). */
  audit: Client<typeof AuditService>;
  transport: Transport;
}

/**
 * Creates typed clients for Berth's public services over the Connect protocol (JSON over HTTP,
 * fetch-based), so the same code runs in Node and in browsers. Failures throw BerthError. Writes
 * get a request id and are retried with reads while the gateway answers UNAVAILABLE.
 */
export function createBerthClient(options: BerthClientOptions): BerthClient {
  const transport = createConnectTransport({
    baseUrl: options.baseUrl,
    useBinaryFormat: false,
    defaultTimeoutMs: options.timeoutMs ?? 30_000,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    // The request id is set once, outside the retries: every attempt carries the same one.
    interceptors: [
      ...(options.requestIds === false ? [] : [requestIdInterceptor()]),
      ...(options.retry === false ? [] : [retryInterceptor(options.retry ?? {})]),
      ...(options.apiKey ? [apiKeyInterceptor(options.apiKey)] : []),
      ...(!options.apiKey && options.accessToken
        ? [bearerTokenInterceptor(options.accessToken)]
        : []),
      ...(options.interceptors ?? []),
    ],
  });
  return {
    registry: withBerthErrors(RegistryService, createClient(RegistryService, transport)),
    instances: withBerthErrors(InstancesService, createClient(InstancesService, transport)),
    runtime: withBerthErrors(RuntimeService, createClient(RuntimeService, transport)),
    apiKeys: withBerthErrors(ApiKeysService, createClient(ApiKeysService, transport)),
    teams: withBerthErrors(TeamsService, createClient(TeamsService, transport)),
    users: withBerthErrors(UsersService, createClient(UsersService, transport)),
    virtualServers: withBerthErrors(
      VirtualServersService,
      createClient(VirtualServersService, transport),
    ),
    deadLetters: withBerthErrors(DeadLettersService, createClient(DeadLettersService, transport)),
    delegation: withBerthErrors(DelegationService, createClient(DelegationService, transport)),
    audit: withBerthErrors(AuditService, createClient(AuditService, transport)),
    transport,
  };
}
