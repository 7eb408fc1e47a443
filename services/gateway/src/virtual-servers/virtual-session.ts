import type { Logger } from "@berth/platform";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { RequestOptions } from "@modelcontextprotocol/sdk/shared/protocol.js";
import { UriTemplate } from "@modelcontextprotocol/sdk/shared/uriTemplate.js";
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  type ClientCapabilities,
  CompleteRequestSchema,
  CompleteResultSchema,
  CreateMessageResultSchema,
  CreateMessageResultWithToolsSchema,
  ElicitResultSchema,
  EmptyResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  GetPromptResultSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListRootsResultSchema,
  ListToolsRequestSchema,
  McpError,
  type Prompt,
  ReadResourceRequestSchema,
  ReadResourceResultSchema,
  type RequestId,
  type Resource,
  type ResourceTemplate,
  ResultSchema,
  type ServerCapabilities,
  type ServerNotification,
  type ServerRequest,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  type Tool,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { GATEWAY_ERROR_CODE } from "../mcp/json-rpc-error.js";
import type { InstanceResolver } from "../mcp/types.js";
import {
  createMemberLink,
  type MemberCredentials,
  type MemberLink,
  MemberUnavailableError,
} from "./member-link.js";
import {
  anyMatches,
  callArguments,
  type ExposedTool,
  exposedPromptName,
  exposeTools,
  type MemberSpec,
  namespaceOf,
} from "./member-policy.js";
import type { FetchLike } from "./node-fetch.js";
import type { VirtualServerRow } from "./virtual-server-entity.js";

/** One MCP call through a virtual server, for the audit trail and metrics (no argument values). */
export interface VirtualCallEvent {
  virtualServerId: string;
  /** Its name (fixed for its lifetime): what the audit trail and metrics show. */
  virtualServerName: string;
  /** The JSON-RPC method (tools/call, resources/read, prompts/get, tools/list, ...). */
  method: string;
  /** The tool or prompt name the client used, or the resource URI's scheme-less absence. */
  tool?: string;
  /** The member that served it (absent for lists and refusals). */
  instanceId?: string;
  instanceName?: string;
  /** The arguments the client sent to tools/call: for a digest, never to be stored or logged. */
  arguments?: unknown;
  keyId: string;
  durationMs: number;
  /** As on the instance path: tool_error is a result flagged isError, unavailable a member down. */
  outcome: "ok" | "error" | "tool_error" | "refused" | "unavailable";
  /** The JSON-RPC error code when the outcome is not ok. */
  errorCode?: number;
}

/** Timeouts of member traffic: none of it may hang a client. */
export interface VirtualTimeouts {
  connectMs: number;
  listMs: number;
  /** A call without progress for this long fails (each progress notification restarts it). */
  callMs: number;
  /** No call lasts longer, whatever its progress. */
  maxCallMs: number;
}

/** Options of createVirtualSession. */
export interface VirtualSessionOptions {
  /** The virtual server now (cached; changes arrive through refresh()). */
  definition: () => Promise<VirtualServerRow | undefined>;
  initial: VirtualServerRow;
  keyId: string;
  /** Tool names or patterns the key may use here; undefined allows all. */
  toolGrant: readonly string[] | undefined;
  clientCapabilities: ClientCapabilities;
  resolver: InstanceResolver;
  fetch: FetchLike;
  timeouts: VirtualTimeouts;
  logger: Logger;
  onCall?: (event: VirtualCallEvent) => void;
  /** Told each time a member is used (the idle policy's clock). */
  touch?: (instanceId: string) => void;
  /** The session's caller and the hooks that give members their own upstream credential. */
  memberCredentials?: MemberCredentials;
}

/** One downstream MCP session of a virtual server: an SDK Server over member SDK Clients. */
export interface VirtualSession {
  readonly server: Server;
  readonly virtualServerId: string;
  /** The definition changed: catalogs are rebuilt and clients told their lists changed. */
  refresh(): void;
  close(): Promise<void>;
}

const NOT_FOUND_RESOURCE = -32002;
const MAX_PAGES = 50;

/**
 * Creates the session's server: connects to every member (those that do not answer in time are
 * left out until they do), answers initialize with the union of the members' capabilities, and
 * serves lists and calls across them with the virtual server's policy and the caller's grant.
 */
export async function createVirtualSession(
  options: VirtualSessionOptions,
): Promise<VirtualSession> {
  const { logger, timeouts } = options;
  const vsId = options.initial.id;
  let members: readonly MemberSpec[] = options.initial.members;
  const links = new Map<string, MemberLink>();
  // Downstream requests in flight per member, newest last: what a member sends during a call
  // goes back on that call's stream.
  const inFlight = new Map<string, RequestId[]>();
  let toolCatalog: Map<string, ExposedTool> | undefined;
  let promptCatalog: Map<string, { member: number; original: string }> | undefined;
  let resourceOwners: Map<string, number> | undefined;
  let templateOwners: Array<{ member: number; template: UriTemplate; source: string }> = [];
  let closed = false;
  let ready = false;
  let server: Server;

  const forgetCatalogs = () => {
    toolCatalog = undefined;
    promptCatalog = undefined;
    resourceOwners = undefined;
  };
  const sendQuietly = (notification: ServerNotification, relatedRequestId?: RequestId) => {
    if (closed) return;
    server
      .notification(notification, relatedRequestId === undefined ? {} : { relatedRequestId })
      .catch((error: unknown) =>
        logger.debug(
          { err: error, method: notification.method },
          "virtual server notification not sent",
        ),
      );
  };

  const linkOf = (member: MemberSpec): MemberLink => {
    let link = links.get(member.instanceId);
    if (!link) {
      link = createMemberLink({
        instance: { id: member.instanceId, name: member.instanceName },
        resolver: options.resolver,
        fetch: options.fetch,
        clientCapabilities: options.clientCapabilities,
        connectTimeoutMs: timeouts.connectMs,
        logger,
        ...(options.touch ? { touch: options.touch } : {}),
        ...(options.memberCredentials ? { credentials: options.memberCredentials } : {}),
        relay: {
          notify(instanceId, notification) {
            const active = inFlight.get(instanceId)?.at(-1);
            switch (notification.method) {
              case "notifications/tools/list_changed":
                toolCatalog = undefined;
                return sendQuietly(notification);
              case "notifications/prompts/list_changed":
                promptCatalog = undefined;
                return sendQuietly(notification);
              case "notifications/resources/list_changed":
                resourceOwners = undefined;
                return sendQuietly(notification);
              default:
                return sendQuietly(notification, active);
            }
          },
          async request(instanceId, request, extra) {
            const active = inFlight.get(instanceId)?.at(-1);
            const requestOptions: RequestOptions = {
              signal: extra.signal,
              ...(active === undefined ? {} : { relatedRequestId: active }),
              timeout: timeouts.maxCallMs,
            };
            const schema =
              request.method === "sampling/createMessage"
                ? "tools" in (request.params ?? {})
                  ? CreateMessageResultWithToolsSchema
                  : CreateMessageResultSchema
                : request.method === "elicitation/create"
                  ? ElicitResultSchema
                  : ListRootsResultSchema;
            return (await server.request(
              request as ServerRequest,
              schema,
              requestOptions,
            )) as Record<string, unknown>;
          },
          availability() {
            // A member coming or going changes what the lists hold: clients are told (once the
            // session serves; the first connections happen before initialize is answered).
            forgetCatalogs();
            if (ready) sendQuietly({ method: "notifications/tools/list_changed" });
          },
        },
      });
      links.set(member.instanceId, link);
    }
    return link;
  };

  /** The member's client, or undefined when it cannot be reached in time. */
  const reach = async (member: MemberSpec): Promise<Client | undefined> => {
    try {
      return await linkOf(member).client();
    } catch (error) {
      logger.debug(
        { err: error, instance_id: member.instanceId },
        "virtual server member unreachable",
      );
      return undefined;
    }
  };

  // Every member is tried once now, so that initialize can answer their capabilities.
  await Promise.all(members.map(reach));
  const capabilities = unionOf(members.map((m) => links.get(m.instanceId)?.capabilities()));
  server = new Server(
    { name: `berth/${options.initial.name}`, version: String(options.initial.revision) },
    { capabilities },
  );

  /** Runs a request against a member, tracking it for relays and dropping the link on failure. */
  const onMember = async <T>(
    member: MemberSpec,
    requestId: RequestId | undefined,
    work: (client: Client) => Promise<T>,
  ): Promise<T> => {
    const client = await linkOf(member).client();
    const stack = inFlight.get(member.instanceId) ?? [];
    inFlight.set(member.instanceId, stack);
    if (requestId !== undefined) stack.push(requestId);
    try {
      return await work(client);
    } catch (error) {
      if (error instanceof McpError && error.code !== ErrorCode.ConnectionClosed) throw error;
      linkOf(member).drop((error as Error).message);
      if (error instanceof MemberUnavailableError) throw error;
      throw new MemberUnavailableError(
        { id: member.instanceId, name: member.instanceName },
        (error as Error).message,
      );
    } finally {
      if (requestId !== undefined) stack.splice(stack.lastIndexOf(requestId), 1);
    }
  };

  const listAll = async <T>(
    member: MemberSpec,
    method: string,
    key: string,
    capable: (c: ServerCapabilities) => boolean,
  ): Promise<T[] | undefined> => {
    const client = await reach(member);
    if (!client || !capable(client.getServerCapabilities() ?? {})) return undefined;
    try {
      const items: T[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const answer = (await client.request(
          { method, params: cursor ? { cursor } : {} } as never,
          ResultSchema,
          { timeout: timeouts.listMs },
        )) as Record<string, unknown>;
        items.push(...((answer[key] as T[] | undefined) ?? []));
        cursor = typeof answer.nextCursor === "string" ? answer.nextCursor : undefined;
        if (!cursor) break;
      }
      return items;
    } catch (error) {
      if (!(error instanceof McpError) || error.code === ErrorCode.ConnectionClosed)
        linkOf(member).drop((error as Error).message);
      logger.debug({ err: error, instance_id: member.instanceId, method }, "member list failed");
      return undefined;
    }
  };

  const grantAllows = (name: string) =>
    options.toolGrant === undefined ||
    options.toolGrant.length === 0 ||
    anyMatches(options.toolGrant, name);

  const tools = async (): Promise<Map<string, ExposedTool>> => {
    if (toolCatalog) return toolCatalog;
    const lists = await Promise.all(
      members.map((m) => listAll<Tool>(m, "tools/list", "tools", (c) => !!c.tools)),
    );
    const { tools: exposed, collisions } = exposeTools(members, lists);
    for (const c of collisions)
      logger.warn({ virtual_server_id: vsId, ...c }, "virtual server tool name taken: hidden");
    toolCatalog = new Map(exposed.filter((t) => grantAllows(t.name)).map((t) => [t.name, t]));
    return toolCatalog;
  };

  const prompts = async () => {
    const lists = await Promise.all(
      members.map((m) => listAll<Prompt>(m, "prompts/list", "prompts", (c) => !!c.prompts)),
    );
    const shown: Prompt[] = [];
    const catalog = new Map<string, { member: number; original: string }>();
    lists.forEach((list, member) => {
      for (const prompt of list ?? []) {
        const name = exposedPromptName(members[member]!, prompt.name);
        if (catalog.has(name)) continue;
        catalog.set(name, { member, original: prompt.name });
        shown.push({ ...prompt, name });
      }
    });
    promptCatalog = catalog;
    return shown;
  };

  const resources = async () => {
    const lists = await Promise.all(
      members.map((m) => listAll<Resource>(m, "resources/list", "resources", (c) => !!c.resources)),
    );
    const shown: Resource[] = [];
    resourceOwners = new Map();
    lists.forEach((list, member) => {
      for (const resource of list ?? []) {
        if (resourceOwners!.has(resource.uri)) continue;
        resourceOwners!.set(resource.uri, member);
        shown.push(resource);
      }
    });
    return shown;
  };

  const templates = async () => {
    const lists = await Promise.all(
      members.map((m) =>
        listAll<ResourceTemplate>(
          m,
          "resources/templates/list",
          "resourceTemplates",
          (c) => !!c.resources,
        ),
      ),
    );
    templateOwners = [];
    const shown: ResourceTemplate[] = [];
    lists.forEach((list, member) => {
      for (const template of list ?? []) {
        templateOwners.push({
          member,
          template: new UriTemplate(template.uriTemplate),
          source: template.uriTemplate,
        });
        shown.push(template);
      }
    });
    return shown;
  };

  /** The member that serves a resource URI: listed, or matching a template; else NOT_FOUND. */
  const ownerOfUri = async (uri: string): Promise<number> => {
    const find = () =>
      resourceOwners?.get(uri) ??
      templateOwners.find((t) => t.template.match(uri) !== null)?.member;
    let owner = find();
    if (owner === undefined) {
      await Promise.all([resources(), templates()]);
      owner = find();
    }
    if (owner === undefined) throw new McpError(NOT_FOUND_RESOURCE, `Resource ${uri} not found`);
    return owner;
  };

  /** Times a request and reports it; refusals and member failures keep their codes. */
  const observed = async <T>(
    method: string,
    name: string | undefined,
    work: (done: (member: MemberSpec) => void) => Promise<T>,
    args?: unknown,
  ): Promise<T> => {
    const started = performance.now();
    let served: MemberSpec | undefined;
    const report = (outcome: VirtualCallEvent["outcome"], errorCode?: number) => {
      if (!options.onCall) return;
      try {
        options.onCall({
          virtualServerId: vsId,
          virtualServerName: options.initial.name,
          method,
          ...(name !== undefined ? { tool: name } : {}),
          ...(served ? { instanceId: served.instanceId, instanceName: served.instanceName } : {}),
          ...(args !== undefined ? { arguments: args } : {}),
          keyId: options.keyId,
          durationMs: performance.now() - started,
          outcome,
          ...(errorCode !== undefined ? { errorCode } : {}),
        });
      } catch (error) {
        logger.warn({ err: error }, "virtual server call hook failed");
      }
    };
    try {
      const result = await work((member) => {
        served = member;
      });
      const isError = (result as { isError?: boolean } | undefined)?.isError === true;
      report(isError ? "tool_error" : "ok");
      return result;
    } catch (error) {
      if (error instanceof MemberUnavailableError) {
        report("unavailable", GATEWAY_ERROR_CODE);
        throw new McpError(GATEWAY_ERROR_CODE, error.message);
      }
      const code = error instanceof McpError ? error.code : ErrorCode.InternalError;
      report(code === ErrorCode.InvalidParams && served === undefined ? "refused" : "error", code);
      throw error;
    }
  };

  const unknownTool = (name: string) =>
    new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`);

  server.setRequestHandler(ListToolsRequestSchema, () =>
    observed("tools/list", undefined, async () => {
      // Always asked of the members: a member that stopped or came back shows at once.
      toolCatalog = undefined;
      return { tools: [...(await tools()).values()].map((t) => t.tool) };
    }),
  );

  server.setRequestHandler(CallToolRequestSchema, (request, extra) => {
    const name = request.params.name;
    return observed(
      "tools/call",
      name,
      async (done) => {
        // The cached catalog first; a name it lacks may be new (or its member back): look again.
        let entry = (await tools()).get(name);
        if (!entry) {
          toolCatalog = undefined;
          entry = (await tools()).get(name);
        }
        if (!entry) {
          // A member this caller must connect first (delegated credentials) lists no tools for
          // them: a name in its namespace gets the same "connect first" answer as its own path.
          const blocked = members.find(
            (m) => links.get(m.instanceId)?.refusal() && name.startsWith(namespaceOf(m)),
          );
          if (blocked) {
            done(blocked);
            throw links.get(blocked.instanceId)!.refusal()!;
          }
        }
        // A tool the caller may not see is refused exactly like one that does not exist.
        if (!entry) throw unknownTool(name);
        const member = members[entry.member]!;
        done(member);
        const progressToken = extra._meta?.progressToken;
        const { _meta, ...params } = request.params;
        const { progressToken: _, ...meta } = _meta ?? {};
        return onMember(member, extra.requestId, (client) =>
          client.request(
            {
              method: "tools/call",
              params: {
                ...params,
                name: entry.original,
                arguments: callArguments(request.params.arguments, entry.pinned),
                ...(Object.keys(meta).length > 0 ? { _meta: meta } : {}),
              },
            },
            CallToolResultSchema,
            {
              signal: extra.signal,
              timeout: timeouts.callMs,
              resetTimeoutOnProgress: true,
              maxTotalTimeout: timeouts.maxCallMs,
              ...(progressToken !== undefined
                ? {
                    onprogress: (progress) =>
                      void extra
                        .sendNotification({
                          method: "notifications/progress",
                          params: { ...progress, progressToken },
                        })
                        .catch(() => undefined),
                  }
                : {}),
            },
          ),
        );
      },
      request.params.arguments,
    );
  });

  if (capabilities.prompts) {
    server.setRequestHandler(ListPromptsRequestSchema, () =>
      observed("prompts/list", undefined, async () => ({ prompts: await prompts() })),
    );
    server.setRequestHandler(GetPromptRequestSchema, (request, extra) =>
      observed("prompts/get", request.params.name, async (done) => {
        let entry = promptCatalog?.get(request.params.name);
        if (!entry) {
          await prompts();
          entry = promptCatalog?.get(request.params.name);
        }
        if (!entry)
          throw new McpError(ErrorCode.InvalidParams, `Prompt ${request.params.name} not found`);
        const member = members[entry.member]!;
        done(member);
        return onMember(member, extra.requestId, (client) =>
          client.request(
            { method: "prompts/get", params: { ...request.params, name: entry.original } },
            GetPromptResultSchema,
            { signal: extra.signal, timeout: timeouts.callMs },
          ),
        );
      }),
    );
  }

  if (capabilities.resources) {
    server.setRequestHandler(ListResourcesRequestSchema, () =>
      observed("resources/list", undefined, async () => ({ resources: await resources() })),
    );
    server.setRequestHandler(ListResourceTemplatesRequestSchema, () =>
      observed("resources/templates/list", undefined, async () => ({
        resourceTemplates: await templates(),
      })),
    );
    server.setRequestHandler(ReadResourceRequestSchema, (request, extra) =>
      observed("resources/read", undefined, async (done) => {
        const member = members[await ownerOfUri(request.params.uri)]!;
        done(member);
        return onMember(member, extra.requestId, (client) =>
          client.request(
            { method: "resources/read", params: request.params },
            ReadResourceResultSchema,
            {
              signal: extra.signal,
              timeout: timeouts.callMs,
            },
          ),
        );
      }),
    );
    if (capabilities.resources.subscribe) {
      for (const [schema, method] of [
        [SubscribeRequestSchema, "resources/subscribe"],
        [UnsubscribeRequestSchema, "resources/unsubscribe"],
      ] as const) {
        server.setRequestHandler(schema, (request, extra) =>
          observed(method, undefined, async (done) => {
            const member = members[await ownerOfUri(request.params.uri)]!;
            done(member);
            return onMember(member, extra.requestId, (client) =>
              client.request({ method, params: request.params }, EmptyResultSchema, {
                signal: extra.signal,
                timeout: timeouts.listMs,
              }),
            );
          }),
        );
      }
    }
  }

  if (capabilities.completions) {
    server.setRequestHandler(CompleteRequestSchema, (request, extra) =>
      observed("completion/complete", undefined, async (done) => {
        const ref = request.params.ref;
        let member: MemberSpec | undefined;
        let params = request.params;
        if (ref.type === "ref/prompt") {
          if (!promptCatalog?.has(ref.name)) await prompts();
          const entry = promptCatalog?.get(ref.name);
          if (entry) {
            member = members[entry.member];
            params = { ...params, ref: { ...ref, name: entry.original } };
          }
        } else {
          if (!templateOwners.some((t) => t.source === ref.uri)) await templates();
          const owner =
            templateOwners.find((t) => t.source === ref.uri)?.member ??
            resourceOwners?.get(ref.uri);
          member = owner === undefined ? undefined : members[owner];
        }
        if (!member) throw new McpError(ErrorCode.InvalidParams, "no member serves this reference");
        done(member);
        return onMember(member, extra.requestId, (client) =>
          client.request({ method: "completion/complete", params }, CompleteResultSchema, {
            signal: extra.signal,
            timeout: timeouts.listMs,
          }),
        );
      }),
    );
  }

  if (capabilities.logging) {
    server.setRequestHandler(SetLevelRequestSchema, (request) =>
      observed("logging/setLevel", undefined, async () => {
        await Promise.all(
          members.map(async (member) => {
            const client = await reach(member);
            if (!client?.getServerCapabilities()?.logging) return;
            await client
              .setLoggingLevel(request.params.level, { timeout: timeouts.listMs })
              .catch(() => undefined);
          }),
        );
        return {};
      }),
    );
  }

  ready = true;
  return {
    server,
    virtualServerId: vsId,
    refresh() {
      void options.definition().then(
        (row) => {
          if (!row || closed) return;
          members = row.members;
          for (const [instanceId, link] of links) {
            if (!members.some((m) => m.instanceId === instanceId)) {
              links.delete(instanceId);
              void link.close();
            }
          }
          forgetCatalogs();
          sendQuietly({ method: "notifications/tools/list_changed" });
        },
        (error: unknown) => logger.warn({ err: error }, "virtual server reload failed"),
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...links.values()].map((link) => link.close()));
      await server.close().catch(() => undefined);
    },
  };
}

/** What initialize answers: tools always (members come and go), the rest when a member has it. */
export function unionOf(list: ReadonlyArray<ServerCapabilities | undefined>): ServerCapabilities {
  const known = list.filter((c): c is ServerCapabilities => c !== undefined);
  const union: ServerCapabilities = { tools: { listChanged: true } };
  if (known.some((c) => c.resources))
    union.resources = {
      listChanged: true,
      ...(known.some((c) => c.resources?.subscribe) ? { subscribe: true } : {}),
    };
  if (known.some((c) => c.prompts)) union.prompts = { listChanged: true };
  if (known.some((c) => c.logging)) union.logging = {};
  if (known.some((c) => c.completions)) union.completions = {};
  return union;
}
