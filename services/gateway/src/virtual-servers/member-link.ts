import type { Logger } from "@berth/platform";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  type ClientCapabilities,
  type ClientRequest,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  type ServerCapabilities,
  type ServerNotification,
  type ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import type { Principal } from "../auth/types.js";
import {
  type InstanceIdentity,
  type InstanceResolver,
  type McpEndpoint,
  McpProxyError,
} from "../mcp/types.js";
import type { FetchLike } from "./node-fetch.js";

/** Where what a member sends on its own goes: the downstream session that owns this link. */
export interface MemberRelay {
  /** Logging, progress-free notifications, list changes, resource updates. */
  notify(instanceId: string, notification: ServerNotification): void;
  /** Sampling, elicitation and roots requests; answers the downstream client's result. */
  request(
    instanceId: string,
    request: ServerRequest,
    extra: RequestHandlerExtra<ClientRequest, never>,
  ): Promise<Record<string, unknown>>;
  /** The link connected or dropped: the member's tools appear or disappear. */
  availability(instanceId: string, up: boolean): void;
}

/** Options of createMemberLink. */
export interface MemberLinkOptions {
  instance: InstanceIdentity;
  resolver: InstanceResolver;
  fetch: FetchLike;
  /** What the downstream client declared: the member may ask it for the same things. */
  clientCapabilities: ClientCapabilities;
  connectTimeoutMs: number;
  relay: MemberRelay;
  logger: Logger;
  /** Told each time the member is used: traffic keeps an idle-policy instance awake. */
  touch?: (instanceId: string) => void;
  /** The caller's own upstream credential (delegated url members), as on /mcp/{instance}. */
  credentials?: MemberCredentials;
}

/** The downstream caller and the delegation hooks (DelegatedCredentials) of a virtual session. */
export interface MemberCredentials {
  principal: Principal;
  /** The endpoint with the caller's own upstream token; throws McpProxyError when there is none. */
  credentials(
    principal: Principal,
    instance: InstanceIdentity,
    endpoint: McpEndpoint,
  ): Promise<McpEndpoint>;
  /** The upstream refused `sent` (401): the endpoint to try once more, or McpProxyError. */
  reauthorize?(
    principal: Principal,
    instance: InstanceIdentity,
    sent: McpEndpoint,
  ): Promise<McpEndpoint>;
}

/** A member that cannot be reached now (not running, or not answering). */
export class MemberUnavailableError extends Error {
  constructor(
    readonly instance: InstanceIdentity,
    reason: string,
  ) {
    super(`member ${JSON.stringify(instance.name)} is unavailable: ${reason}`);
    this.name = "MemberUnavailableError";
  }
}

/**
 * A member the caller may not use as they are: a delegated url instance they have not connected
 * (or whose grant the upstream refused). The message is the one /mcp/{instance} answers.
 */
export class MemberRefusedError extends MemberUnavailableError {
  constructor(instance: InstanceIdentity, answer: string) {
    super(instance, answer);
    this.message = answer;
    this.name = "MemberRefusedError";
  }
}

/** One downstream session's MCP client of one member instance, (re)connected on demand. */
export interface MemberLink {
  readonly instance: InstanceIdentity;
  /** The connected client; connects first when there is none. Throws MemberUnavailableError. */
  client(): Promise<Client>;
  /** The member's capabilities, once it was reached. */
  capabilities(): ServerCapabilities | undefined;
  /** Why the caller may not use the member, when its last connection was refused so. */
  refusal(): MemberRefusedError | undefined;
  /** Forgets the client after a transport failure: the next use reconnects. */
  drop(reason: string): void;
  close(): Promise<void>;
}

const CLIENT_INFO = { name: "berth-virtual-server", version: "1.0.0" };

/**
 * An SDK Client per member per downstream session, so that whatever a member sends during a call
 * (logging, sampling, elicitation) can only reach the client whose session made the call. The
 * member is reached at the endpoint the instance resolver gives (the runtime's bridge for stdio
 * containers, the published port of HTTP containers, the remote URL), with the instance's own
 * credential headers, never the caller's.
 */
export function createMemberLink(options: MemberLinkOptions): MemberLink {
  const { instance, resolver, logger, relay } = options;
  let current: Promise<Client> | undefined;
  let connected: Client | undefined;
  let closed = false;
  let refusal: MemberRefusedError | undefined;

  // A 403 is the caller's own (connect first, connect again, an API key); anything else (the
  // instances service away) leaves the member unavailable for now, like a member down.
  const refused = (error: unknown): unknown =>
    error instanceof McpProxyError
      ? error.status === 403
        ? new MemberRefusedError(instance, error.message)
        : new MemberUnavailableError(instance, error.message)
      : error;

  /**
   * The member's fetch with the caller's own upstream token on every request (a token renewed
   * meanwhile is used at once), and one more try with a renewed token after a 401.
   */
  const delegatedFetch = (endpoint: McpEndpoint, hooks: MemberCredentials): FetchLike => {
    const withHeaders = (init: RequestInit | undefined, authorized: McpEndpoint): RequestInit => {
      const headers = new Headers(init?.headers);
      for (const [name, value] of Object.entries(authorized.headers)) headers.set(name, value);
      return { ...init, headers };
    };
    return async (url, init) => {
      const authorized = await hooks
        .credentials(hooks.principal, instance, endpoint)
        .catch((error: unknown) => {
          throw refused(error);
        });
      const answer = await options.fetch(url, withHeaders(init, authorized));
      if (answer.status !== 401 || !hooks.reauthorize || authorized === endpoint) return answer;
      // The upstream's challenge never reaches the caller: renewed once, or "connect again".
      await answer.body?.cancel().catch(() => undefined);
      const renewed = await hooks
        .reauthorize(hooks.principal, instance, authorized)
        .catch((error: unknown) => {
          throw refused(error);
        });
      return options.fetch(url, withHeaders(init, renewed));
    };
  };

  const connect = async (): Promise<Client> => {
    let endpoint: Awaited<ReturnType<InstanceResolver["endpoint"]>>;
    try {
      endpoint = await resolver.endpoint(instance);
    } catch (error) {
      throw new MemberUnavailableError(instance, (error as Error).message);
    }
    const hooks = options.credentials;
    if (hooks) {
      // Asked before connecting, so that a caller who has not connected is told so at once.
      try {
        await hooks.credentials(hooks.principal, instance, endpoint);
      } catch (error) {
        const answer = refused(error);
        if (answer instanceof MemberRefusedError) refusal = answer;
        throw answer instanceof MemberUnavailableError
          ? answer
          : new MemberUnavailableError(instance, (error as Error).message);
      }
    }
    const transport = new StreamableHTTPClientTransport(new URL(endpoint.url), {
      requestInit: { headers: { ...endpoint.headers } },
      fetch: hooks ? delegatedFetch(endpoint, hooks) : options.fetch,
    });
    const { sampling, elicitation, roots } = options.clientCapabilities;
    const client = new Client(CLIENT_INFO, {
      capabilities: {
        ...(sampling ? { sampling } : {}),
        ...(elicitation ? { elicitation } : {}),
        ...(roots ? { roots } : {}),
      },
    });
    const relayed = (
      schema:
        | typeof CreateMessageRequestSchema
        | typeof ElicitRequestSchema
        | typeof ListRootsRequestSchema,
    ) =>
      client.setRequestHandler(
        schema as typeof CreateMessageRequestSchema,
        (request, extra) =>
          relay.request(instance.id, request as ServerRequest, extra as never) as never,
      );
    if (sampling) relayed(CreateMessageRequestSchema);
    if (elicitation) relayed(ElicitRequestSchema);
    if (roots) relayed(ListRootsRequestSchema);
    client.fallbackNotificationHandler = async (notification) => {
      relay.notify(instance.id, notification as ServerNotification);
    };
    client.onclose = () => {
      if (connected === client) forget("the member closed the session");
    };
    const timer = new Promise<never>((_, reject) => {
      const t = setTimeout(
        () => reject(new MemberUnavailableError(instance, "initialize timed out")),
        options.connectTimeoutMs,
      );
      t.unref();
    });
    try {
      await Promise.race([client.connect(transport), timer]);
    } catch (error) {
      void client.close().catch(() => undefined);
      resolver.invalidate(instance.id);
      if (error instanceof MemberRefusedError) refusal = error;
      throw error instanceof MemberUnavailableError
        ? error
        : new MemberUnavailableError(instance, (error as Error).message);
    }
    if (closed) {
      void client.close().catch(() => undefined);
      throw new MemberUnavailableError(instance, "the session ended");
    }
    connected = client;
    refusal = undefined;
    relay.availability(instance.id, true);
    return client;
  };

  const forget = (reason: string) => {
    const was = connected;
    current = undefined;
    connected = undefined;
    if (!was) return;
    logger.info({ instance_id: instance.id, reason }, "virtual server member link dropped");
    resolver.invalidate(instance.id);
    void was.close().catch(() => undefined);
    if (!closed) relay.availability(instance.id, false);
  };

  return {
    instance,
    client() {
      if (closed) return Promise.reject(new MemberUnavailableError(instance, "the session ended"));
      options.touch?.(instance.id);
      if (!current) {
        const attempt = connect();
        current = attempt;
        // A failed attempt is not kept: the next use tries again.
        attempt.catch(() => {
          if (current === attempt) current = undefined;
        });
      }
      return current;
    },
    capabilities: () => connected?.getServerCapabilities(),
    refusal: () => refusal,
    drop: forget,
    async close() {
      closed = true;
      const client = connected;
      current = undefined;
      connected = undefined;
      if (!client) return;
      const transport = client.transport as StreamableHTTPClientTransport | undefined;
      // Ends the member's session (DELETE) so that it does not wait for its idle timeout.
      await transport?.terminateSession().catch(() => undefined);
      await client.close().catch(() => undefined);
    },
  };
}
